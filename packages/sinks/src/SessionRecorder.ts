/**
 * Records every session of an `EventSource` into a folder, with no code beyond a Layer: per session it writes
 * `DIR/<session-key>/` as the CLI contract says:
 *
 * ```text
 * session.json          ids, runs, connections, gaps, drops, counts by event, unknown events, decode failures,
 *                       errors, audio and video counts
 * events.jsonl          the tape of raw messages (replayable)
 * transcript.json|.txt|.srt|.vtt
 * participants.json     per participant id: details, intervals, talk time (s) and share
 * chat.json
 * audio/mixed.wav       16 kHz mono 16-bit; sample 0 = meeting time 0; gaps are silence
 * audio/participant-<id>.wav
 * video/participant-<id>/<webcam|screenshare>/<ms>.png   (and <webcam|screenshare>.h264)
 * ```
 *
 * Sessions are recorded concurrently. Within a session, a message that cannot be used (a bad frame, a failed
 * write) is counted in `session.json` and logged, and recording goes on; a session whose folder cannot be set up
 * at all is logged and its events are drained, so other sessions never wait for it.
 *
 * A folder that exists already is continued, not overwritten (a restarted process whose session reconnects):
 * WAVs are extended from their end, the tape is appended, the transcript, participants, chat and counts are read
 * back and merged with what comes next.
 *
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
import { EventSource, EventStream, RecallEvent, type SessionEvent } from "@callstream/core"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as AudioTimeline from "./AudioTimeline.js"
import * as Exports from "./Exports.js"
import * as FrameWriter from "./FrameWriter.js"
import { readJson, replaceFile, safeName } from "./internal/files.js"
import * as Participants from "./Participants.js"
import * as SessionFolder from "./SessionFolder.js"
import * as SessionSummary from "./SessionSummary.js"
import * as TapeRecorder from "./TapeRecorder.js"
import * as Transcript from "./Transcript.js"
import * as WavWriter from "./WavWriter.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The folder that holds one folder per session. */
  readonly directory: string
  /** How often the derived files (transcript, participants, chat, session.json) are refreshed. Default 2 s. */
  readonly exportInterval?: Duration.DurationInput | undefined
  /** Where late audio may still land; see `AudioTimeline`. */
  readonly audio?: AudioTimeline.Options | undefined
  /** The longest a WAV header may lag its data. Default 500 ms. */
  readonly patchInterval?: Duration.DurationInput | undefined
  /** Chunks buffered per session by the splitter (see `EventStream.sessions`). */
  readonly bufferSize?: number | undefined
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
 * The WAV file of a track, relative to the session folder.
 *
 * @since 0.1.0
 * @category accessors
 */
export const wavName = (track: AudioTimeline.TrackKey): string =>
  track === "mixed" ? "mixed.wav" : `participant-${safeName(track)}.wav`

// the media counts an earlier run wrote next to the summary in session.json, carried on after a restart
const SavedCounts = Schema.Struct({
  chunks: Schema.Number,
  late: Schema.Number,
  repeatedSamples: Schema.Number,
  droppedSamples: Schema.Number,
  invalid: Schema.Number
})
const SavedMedia = Schema.Struct({
  audio: Schema.optionalWith(Schema.Record({ key: Schema.String, value: SavedCounts }), { default: () => ({}) }),
  video: Schema.optional(Schema.Struct({ frames: Schema.Number, bytes: Schema.Number, badFrames: Schema.Number }))
})
const decodeSavedMedia = Schema.decodeUnknownEither(SavedMedia)

const errorText = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : JSON.stringify(cause)

/**
 * Records one session's Stream into `DIR/<session-key>/` and returns its summary. Never fails: problems are
 * recorded in `session.json` and logged.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordSession = <E>(
  session: EventStream.Session<SessionEvent.SessionEvent, E>,
  options: Options
): Effect.Effect<SessionSummary.SessionSummary, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = path.join(options.directory, folderName(session.key))
    const audioDir = path.join(dir, "audio")
    yield* fs.makeDirectory(audioDir, { recursive: true })

    // what an earlier run left, if any
    const saved = yield* readJson(path.join(dir, "session.json"))
    let summary = Either.getOrElse(SessionSummary.fromJson(saved), () => SessionSummary.empty(session.key))
    const savedMedia = Either.getOrElse(decodeSavedMedia(saved), (): typeof SavedMedia.Type => ({ audio: {} }))
    let transcript = Either.getOrElse(
      Transcript.fromJson(yield* readJson(path.join(dir, "transcript.json"))),
      () => Transcript.empty
    )
    let participants = Either.getOrElse(
      Participants.fromJson(
        (yield* readJson(path.join(dir, "participants.json"))) ?? {},
        (yield* readJson(path.join(dir, "chat.json"))) ?? []
      ),
      () => Participants.empty
    )
    let timeline = AudioTimeline.empty
    const reduceAudio = AudioTimeline.reduceWith(options.audio)
    const wavs = new Map<string, WavWriter.WavWriter>()
    const broken = new Set<string>()
    const video = { frames: 0, bytes: 0, badFrames: 0, ...savedMedia.video }
    let dirty = true

    const tape = yield* TapeRecorder.make(path.join(dir, "events.jsonl"))
    const frames = yield* FrameWriter.make(path.join(dir, "video"))
    const scope = yield* Effect.scope

    const report = (source: string, cause: unknown) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        summary = SessionSummary.addError(summary, now, source, errorText(cause))
        return Effect.logWarning(`session ${session.key}: ${source}: ${errorText(cause)}`)
      })

    const snapshot = (): Exports.Snapshot => ({
      transcript,
      participants,
      summary,
      extra: {
        audio: Object.fromEntries(
          Object.entries(timeline.tracks).map(([key, track]) => [key, {
            file: `audio/${wavName(key as AudioTimeline.TrackKey)}`,
            seconds: AudioTimeline.secondsOf(track.frontier),
            chunks: track.chunks,
            late: track.late,
            repeatedSamples: track.repeatedSamples,
            droppedSamples: track.droppedSamples,
            invalid: track.invalid
          }])
        ),
        video
      }
    })

    const exportNow = Effect.suspend(() => {
      dirty = false
      return Exports.write(dir, snapshot())
    }).pipe(Effect.catchAll((error) => report("exports", error)))

    const openTrack = (key: AudioTimeline.TrackKey) =>
      Effect.suspend(() => {
        const open = wavs.get(key)
        if (open !== undefined || broken.has(key)) return Effect.succeed(open)
        return WavWriter.make(path.join(audioDir, wavName(key)), { patchInterval: options.patchInterval }).pipe(
          Scope.extend(scope),
          Effect.provideService(FileSystem.FileSystem, fs),
          Effect.flatMap((wav) =>
            Effect.map(wav.samples, (samples) => {
              wavs.set(key, wav)
              if (timeline.tracks[key] === undefined) {
                const track = AudioTimeline.resumed(samples, savedMedia.audio[key])
                timeline = { ...timeline, tracks: { ...timeline.tracks, [key]: track } }
              }
              return wav
            })
          ),
          Effect.catchAll((error) => {
            broken.add(key)
            return Effect.as(report(`audio/${wavName(key)}`, error), undefined)
          })
        )
      })

    const handleAudio = (event: RecallEvent.AudioEvent) =>
      Effect.gen(function*() {
        const key = EventStream.trackOf(event) as AudioTimeline.TrackKey
        const wav = yield* openTrack(key)
        timeline = reduceAudio(timeline, event)
        if (wav === undefined) return
        for (const write of timeline.writes) {
          yield* wav.write(write.offset, write.samples).pipe(
            Effect.catchAll((error) => report(`audio/${wavName(key)}`, error))
          )
        }
      })

    const handle = (item: SessionEvent.SessionEvent): Effect.Effect<void> =>
      Effect.gen(function*() {
        summary = SessionSummary.reduce(summary, item)
        // the reducers take the control events too (a Gap closes open speech in Participants)
        participants = Participants.reduce(participants, item)
        dirty = true
        if (item._tag !== "Message") return
        yield* tape.record(item).pipe(Effect.catchAll((error) => report("events.jsonl", error)))
        const event = item.event
        transcript = Transcript.reduce(transcript, event)
        if (RecallEvent.isAudioEvent(event)) {
          yield* handleAudio(event)
        } else if (RecallEvent.isVideoEvent(event)) {
          yield* frames.write(event).pipe(
            Effect.tap((written) =>
              Effect.sync(() => {
                video.frames++
                video.bytes += written.bytes
              })
            ),
            Effect.catchAll((error) => {
              video.badFrames++
              return report("video", error)
            })
          )
        }
      }).pipe(Effect.catchAllCause((cause) => report("recorder", Cause.pretty(cause))))

    const interval = Duration.decode(options.exportInterval ?? Duration.seconds(2))
    yield* exportNow
    // the last write of the derived files happens however the recording ends: the source ending, or the recorder
    // being interrupted (a Layer closing, Ctrl-C); WAV writers patch their headers in their own finalizers
    yield* Effect.addFinalizer(() => exportNow)
    yield* Effect.forkScoped(
      Effect.sleep(interval).pipe(
        Effect.zipRight(Effect.suspend(() => dirty ? exportNow : Effect.void)),
        Effect.forever
      )
    )
    yield* session.events.pipe(
      Stream.runForEach(handle),
      Effect.catchAllCause((cause) => report("source", Cause.pretty(cause)))
    )
    return summary
  }).pipe(
    Effect.scoped,
    Effect.catchAllCause((cause) =>
      Effect.gen(function*() {
        yield* Effect.logError(`session ${session.key} could not be recorded`, cause)
        yield* Stream.runDrain(session.events).pipe(Effect.ignore)
        const now = yield* Clock.currentTimeMillis
        const summary = SessionSummary.addError(SessionSummary.empty(session.key), now, "recorder", Cause.pretty(cause))
        // say so in session.json too, when the folder can take it
        const path = yield* Path.Path
        yield* replaceFile(
          path.join(options.directory, folderName(session.key), "session.json"),
          JSON.stringify(summary, null, 2) + "\n"
        ).pipe(Effect.ignore)
        return summary
      })
    )
  )

/**
 * Records every session of the `EventSource`, concurrently, until the source ends.
 *
 * @since 0.1.0
 * @category recording
 */
export const run = (
  options: Options
): Effect.Effect<void, never, EventSource.EventSource | FileSystem.FileSystem | Path.Path> =>
  Effect.flatMap(
    EventSource.EventSource,
    (source) => recordAll(source.events.pipe(EventStream.sessions({ bufferSize: options.bufferSize })), options)
  )

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
  sessions.pipe(
    Stream.mapEffect((session) => recordSession(session, options), { concurrency: "unbounded", unordered: true }),
    Stream.runDrain
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
