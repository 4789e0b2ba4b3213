/**
 * Records every session of an `EventSource` into a folder, with no code beyond a Layer: per session it writes
 * `DIR/<session-key>/` as the CLI contract says:
 *
 * ```text
 * session.json          ids, runs, connections, gaps, drops, counts by event, unknown events, decode failures,
 *                       errors, audio and video counts, the recorder's own counts
 * events.jsonl          the tape of raw messages (replayable)
 * control.jsonl         the control events (connections, gaps, drops, decode failures, start and end), each with
 *                       the number of tape lines before it; and bytes of H.264 streams given up
 * checkpoint.json       the recorder's state and how far into both logs it goes (where a restart starts)
 * transcript.json|.txt|.srt|.vtt
 * transcript.settled.jsonl   the finals the recorder no longer holds in memory (see Memory below)
 * participants.json     per participant id: details, intervals, talk time (s) and share
 * participants.settled.jsonl   the closed intervals the recorder no longer holds in memory
 * chat.json
 * chat.settled.jsonl    the chat messages the recorder no longer holds in memory
 * audio/mixed.wav       16 kHz mono 16-bit; sample 0 = meeting time 0; gaps are silence
 * audio/participant-<id>.wav
 * video/participant-<id>/<webcam|screenshare>/<ms>.png   (and <webcam|screenshare>.h264)
 * ```
 *
 * **How it writes.** A session's events are applied a chunk at a time, synchronously: the reducers are pure and no
 * event costs an Effect or a write of its own. What they produce is collected per file and written with one call
 * per file per flush: every `flushInterval` (default 1 s) on one timer shared by all sessions of the recorder
 * (sessions are spread over five slots of that interval, so a thousand sessions never flush in the same instant),
 * or at once when a session has `maxPendingBytes` (default 1 MiB) waiting. Each flush writes the media first (WAV
 * runs, H.264 appends, PNG files), then the tape and the control log: that is the commit point, after which
 * `onFlushed` hears the position reached. A WAV header is patched in the flush that keeps it at most
 * `patchInterval` (default 1 s) behind the audio received, and never declares bytes that were not written. The derived files (transcript, participants, chat, session.json) are rendered from the state
 * and rewritten only when their content changed, at most every `exportInterval` (default 2 s) and, when many
 * sessions are live, less often: all sessions together rewrite about `exportFilesPerSecond` (default 50) files and
 * render `exportBytesPerSecond` (default 1 MiB) per second at most, each session waiting after a refresh until its
 * share allows the next (metric `callstream_recorder_export_interval_seconds`). With 1,000 live sessions whose
 * refreshes rewrite three files each, that is once a minute; as sessions start at different times and wait different
 * amounts, their refreshes spread out. A session's first refresh, which writes every file, is placed the same way:
 * when its files times the live sessions do not fit the budget within `exportInterval`, it comes at a point of that
 * longer interval its key picks, so sessions that start together do not all write their files at once. A long
 * meeting's files grow (its transcript holds every word), so its refreshes come further apart: a 10-minute meeting with a final every 2 s renders about 900 KB per refresh
 * (transcript.json with its words, the other transcript files, the checkpoint), so at 500 such sessions each one's
 * files are refreshed about every 7 minutes by the end. The bytes budget is what keeps a
 * busy recorder's CPU flat as its meetings grow: at 4 MiB, three 10-minute soaks at 500 sessions saturated a 2-core
 * machine after 4 to 6 minutes; at 1 MiB, the same soak held 60-90% of a core to the end.
 *
 * **Restarts.** The tape is the write-ahead log. Every `checkpointInterval` (default 30 s), and when the session
 * ends, `checkpoint.json` saves the whole state with the tape and control-log offsets it covers (and how much of
 * `transcript.settled.jsonl`, `participants.settled.jsonl` and `chat.settled.jsonl` goes with it: a restart cuts those
 * files back to it).
 * A recorder that
 * finds a folder continues it: it cuts a line a kill left half-written, loads the checkpoint and replays the rest
 * of both logs, in their original order, through the same reducers, so the transcript, participants, chat and
 * session.json equal a recording that never stopped; WAVs are continued at the right offset, and replayed audio
 * the WAVs lack is written again. After a SIGKILL, what had not reached the tape (at most one flush interval) is
 * lost; closing the scope (SIGTERM, Ctrl-C, a Layer closing) flushes everything first. A folder written by an
 * earlier version (no control log) is continued from its derived files.
 *
 * **Exactly once behind a failover.** Events may carry a `position` (see `SessionEvent.Position`): the position of
 * the last event applied is saved on its tape line or control line, and an event whose position is at or before
 * it (a source delivering again after a failover) is skipped and counted. `onFlushed(session, position)` is called
 * after each flush that put new positions on disk, so a transport acknowledges only what a restart would recover.
 * A `SessionEnded` whose reason is `handover` (a scale-out worker giving the session's partition to another) is not
 * applied: the session's files are finished as when the source ends, and the recorder that continues them finds
 * the meeting as it was.
 * H.264 streams are plain appends, so the checkpoint counts each stream's bytes, and a restart cuts a stream back
 * to them plus the frames it replays, less the bytes the control log says were given up since (a disk that refused
 * them for too long): a frame that reached its stream but not the tape (a kill between the two) is removed, and
 * written once when it is delivered again.
 *
 * **Bounds.** At most `maxOpenFiles` (default 64) track files (WAV and H.264) are open per session; past it the least
 * recently used one is closed, and opened again when needed (logged once per session, counted in session.json's
 * `recorder.handlesClosed` and `callstream_recorder_handles_closed_total`). A file that cannot be written (a full
 * or read-only disk) is reported once per session and file in the log and session.json's `errors`, counted in
 * `recorder.writeFailures` and `callstream_recorder_write_failures_total`, and tried again after a backoff (1 s,
 * doubling to 30 s); recording resumes when the disk does. Meanwhile media waits in memory up to 256 KiB per file,
 * past which it is given up and counted (`recorder.lostBytes`, `callstream_recorder_lost_bytes_total`); the tape
 * and control log are never given up: the session's Stream waits instead (backpressure), so never-dropped events
 * stay never dropped. A message that cannot be used (a bad frame) is counted in session.json and logged once per
 * session and kind; a session whose folder cannot be set up at all is logged and its events are drained, so other
 * sessions never wait for it.
 *
 * **Memory per session**: the reducers' states (the transcript's finals of the last 10 s of meeting time with their
 * words: older ones are moved out to `transcript.settled.jsonl` at most every `exportInterval`, in the flush, with
 * the logs, and read back only while the transcript files are rendered; the ids of every final, so a repeat is
 * still recognized; the roster with its open intervals (closed ones are moved out to `participants.settled.jsonl`
 * the same way, and read back only while `participants.json` is rendered); the chat's messages of the last 10 s of
 * meeting time (older ones are moved out to `chat.settled.jsonl` the same way, read back only while `chat.json` is
 * rendered, and its time and a digest of it stay, 16 bytes, so a repeat is still recognized);
 * the summary, whose lists are bounded; per audio track its frontier, the ranges within the late-audio window and
 * its counts), the output collected since the last flush (about `flushInterval` of the session's traffic, at most
 * `maxPendingBytes` before the Stream waits), up to `maxOpenFiles` open files, and a digest of each derived file
 * as last written. The states a flush renders or checkpoints are the same immutable values, not copies. Raw
 * messages and decoded audio are held only until the flush that writes them.
 *
 * @example
 * ```ts
 * import { EventSource } from "@callstream/core"
 * import { SessionRecorder } from "@callstream/sinks"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 *
 * const program = SessionRecorder.run({ directory: "recordings" }).pipe(
 *   Effect.provide(EventSource.fromTape("meeting.jsonl")),
 *   Effect.provide(NodeContext.layer)
 * )
 * ```
 *
 * @since 0.1.0
 */
import { EventSource, type EventStream, type SessionEvent, type SessionKey } from "@callstream/core"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type * as AudioTimeline from "./AudioTimeline.js"
import * as FlushScheduler from "./internal/flushScheduler.js"
import * as Layout from "./internal/layout.js"
import * as OpenSession from "./internal/openSession.js"
import * as Recorder from "./internal/recorder.js"
import type * as SessionWriter from "./internal/sessionWriter.js"
import * as SessionFolder from "./SessionFolder.js"
import type * as SessionSummary from "./SessionSummary.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The folder that holds one folder per session. */
  readonly directory: string
  /**
   * The shortest time between two refreshes of a session's derived files (transcript, participants, chat,
   * session.json). Default 2 s; longer when `exportFilesPerSecond` or `exportBytesPerSecond` does not allow it.
   */
  readonly exportInterval?: Duration.DurationInput | undefined
  /**
   * About how many derived files and checkpoints the recorder rewrites per second, all live sessions together: a
   * session's files are refreshed no more often than its share allows. Default 50: creating and renaming files is what costs most on a busy disk.
   *
   * @since 0.2.0
   */
  readonly exportFilesPerSecond?: number | undefined
  /**
   * About how many bytes of derived files and checkpoints the recorder renders per second, all live sessions
   * together, as `exportFilesPerSecond` counts files. Default 1 MiB.
   *
   * @since 0.2.0
   */
  readonly exportBytesPerSecond?: number | undefined
  /**
   * How often a session's collected output is written (one call per file). Default 1 s: a process killed outright loses at most
   * that much of what it had received.
   *
   * @since 0.2.0
   */
  readonly flushInterval?: Duration.DurationInput | undefined
  /**
   * How often `checkpoint.json` is saved while a session runs (a restart replays the logs from it). Default 30 s.
   *
   * @since 0.2.0
   */
  readonly checkpointInterval?: Duration.DurationInput | undefined
  /** Where late audio may still land; see `AudioTimeline`. */
  readonly audio?: AudioTimeline.Options | undefined
  /**
   * The longest a WAV header may lag the audio the recorder received (a header is patched in the flush that keeps
   * the lag within it). Default 1 s.
   */
  readonly patchInterval?: Duration.DurationInput | undefined
  /**
   * Chunks buffered per session by `EventStream.sessions`, for callers that split a source themselves before
   * {@link recordAll}. The recorder itself no longer splits its source, so it does not read this.
   */
  readonly bufferSize?: number | undefined
  /**
   * Track files (WAV, H.264) a session keeps open at most; the least recently used is closed past it. Default 64.
   *
   * @since 0.2.0
   */
  readonly maxOpenFiles?: number | undefined
  /**
   * Bytes of collected output a session may hold before it writes at once (and, while its files cannot be
   * written, before its Stream waits). Default 1 MiB.
   *
   * @since 0.2.0
   */
  readonly maxPendingBytes?: number | undefined
  /**
   * Bytes of collected output all sessions together may hold unwritten (and of events held for sessions being set
   * up) before {@link recordEvents} stops reading its source until flushes bring them back under it. Default
   * 256 MiB.
   *
   * @since 0.2.0
   */
  readonly maxPendingTotal?: number | undefined
  /**
   * Called after a flush put events with new positions on disk: `position` is the last one, and everything up to
   * it survives a restart. For transports that acknowledge what is recorded (see `SessionEvent.Position`). The
   * session's last flush (at its `SessionEnded`, or when the source ends) calls it only once every file of the
   * session is written; a `SessionEnded("handover")` with a position is reported (that position) after the last
   * flush and the files closed: the recorder writes nothing more of the session after either.
   *
   * @since 0.2.0
   */
  readonly onFlushed?: ((session: SessionKey.SessionKey, position: string) => Effect.Effect<void>) | undefined
}

/**
 * The folder of a session: its key when that is a safe name, else a readable prefix and a hash (see
 * `SessionFolder`), so two sessions never share a folder.
 *
 * @since 0.1.0
 * @category accessors
 */
export const folderName = (session: string): string => SessionFolder.nameOf(session)

/**
 * The WAV file of a track, relative to the session's `audio` folder.
 *
 * @since 0.1.0
 * @category accessors
 */
export const wavName = (track: AudioTimeline.TrackKey): string => Layout.wavName(track)

const millis = (input: Duration.DurationInput | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(Duration.decode(input))

const flushIntervalOf = (options: Options): number => millis(options.flushInterval, 1_000)

const settingsOf = (options: Options, session: SessionKey.SessionKey, directory: string): SessionWriter.Settings => ({
  session,
  directory,
  audio: options.audio,
  exportInterval: millis(options.exportInterval, 2_000),
  exportBytesPerSecond: options.exportBytesPerSecond ?? 1024 * 1024,
  exportFilesPerSecond: options.exportFilesPerSecond ?? 50,
  checkpointInterval: millis(options.checkpointInterval, 30_000),
  patchInterval: millis(options.patchInterval, 1_000),
  flushInterval: flushIntervalOf(options),
  maxOpenFiles: options.maxOpenFiles ?? 64,
  maxPendingBytes: options.maxPendingBytes ?? 1024 * 1024,
  onFlushed: options.onFlushed
})

const closeConcurrency = 16

const recordOn = <E>(
  session: EventStream.Session<SessionEvent.SessionEvent, E>,
  options: Options,
  scheduler: FlushScheduler.FlushScheduler
): Effect.Effect<SessionSummary.SessionSummary, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const writer = yield* OpenSession.open(
      session.key,
      options.directory,
      options.audio,
      (folder) => settingsOf(options, session.key, folder),
      scheduler
    )
    yield* session.events.pipe(
      Stream.runForEachChunk(writer.accept),
      Effect.catchAllCause((cause) => writer.report("source", Cause.pretty(cause)))
    )
    yield* writer.finish
    return writer.summary()
  }).pipe(
    Effect.scoped,
    Effect.catchAllCause((cause) =>
      Effect.zipLeft(
        OpenSession.failed(session.key, options.directory, cause),
        Stream.runDrain(session.events).pipe(Effect.ignore)
      )
    )
  )

/**
 * Records one session's Stream into `DIR/<session-key>/` and returns its summary. Never fails: problems are
 * recorded in `session.json` and logged. To record many sessions, use {@link recordAll}, whose sessions share one
 * flush timer.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordSession = <E>(
  session: EventStream.Session<SessionEvent.SessionEvent, E>,
  options: Options
): Effect.Effect<SessionSummary.SessionSummary, never, FileSystem.FileSystem | Path.Path> =>
  Effect.scoped(
    Effect.flatMap(
      FlushScheduler.make(flushIntervalOf(options)),
      (scheduler) => recordOn(session, options, scheduler)
    )
  )

/**
 * Records every session of a flat Stream of events (sessions interleaved, each in order, as `EventSource.events` and
 * the server's `events` carry them) until it ends, then finishes every session's files. One consumer reads the
 * Stream a chunk at a time and hands each event to its session synchronously: no session has a Stream or a fiber
 * of its own. It waits only when all sessions together hold `maxPendingTotal` bytes not written yet, which backs
 * up into the source.
 *
 * @since 0.2.0
 * @category recording
 */
export const recordEvents = <E, R>(
  events: Stream.Stream<SessionEvent.SessionEvent, E, R>,
  options: Options
): Effect.Effect<void, E, R | FileSystem.FileSystem | Path.Path> =>
  Effect.scoped(
    Effect.gen(function*() {
      const scheduler = yield* FlushScheduler.make(flushIntervalOf(options))
      const recorder = yield* Recorder.make({
        directory: options.directory,
        audio: options.audio,
        writer: (key, folder, hooks) => ({ ...settingsOf(options, key, folder), ...hooks }),
        maxPendingTotal: options.maxPendingTotal ?? 256 * 1024 * 1024,
        closeConcurrency,
        onFlushed: options.onFlushed
      }, scheduler)
      yield* Stream.runForEachChunk(events, recorder.accept)
      yield* recorder.end
    })
  )

/**
 * Records every session of the `EventSource` until the source ends (see {@link recordEvents}).
 *
 * @since 0.1.0
 * @category recording
 */
export const run = (
  options: Options
): Effect.Effect<void, never, EventSource.EventSource | FileSystem.FileSystem | Path.Path> =>
  Effect.flatMap(EventSource.EventSource, (source) => recordEvents(source.events, options))

/**
 * Records a Stream of sessions, each with its own Stream of events, concurrently, until it ends. Use it with a
 * source that already splits its events per session (such as the server's `sessions`), so each session keeps
 * its own buffer and a slow one never holds back the others.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordAll = <E, E2, R>(
  sessions: Stream.Stream<EventStream.Session<SessionEvent.SessionEvent, E>, E2, R>,
  options: Options
): Effect.Effect<void, E2, R | FileSystem.FileSystem | Path.Path> =>
  Effect.scoped(
    Effect.flatMap(FlushScheduler.make(flushIntervalOf(options)), (scheduler) =>
      sessions.pipe(
        Stream.mapEffect((session) => recordOn(session, options, scheduler), {
          concurrency: "unbounded",
          unordered: true
        }),
        Stream.runDrain
      ))
  )

/**
 * A Layer that records in the background for as long as it lives (closing it finishes every file).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<never, never, EventSource.EventSource | FileSystem.FileSystem | Path.Path> =>
  Layer.scopedDiscard(Effect.forkScoped(run(options)))
