import { Printable, type SessionEvent, SessionKey } from "@callstream/core"
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import type * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import * as Crypto from "node:crypto"
import * as AudioTimeline from "../AudioTimeline.js"
import * as Exports from "../Exports.js"
import type * as FrameWriter from "../FrameWriter.js"
import * as Participants from "../Participants.js"
import * as RecorderMetrics from "../RecorderMetrics.js"
import type * as SessionSummary from "../SessionSummary.js"
import * as Transcript from "../Transcript.js"
import * as WavWriter from "../WavWriter.js"
import { AppendBuffer } from "./appendBuffer.js"
import * as Checkpoint from "./checkpoint.js"
import * as ControlLog from "./controlLog.js"
import { replaceFile } from "./files.js"
import { FileTrouble } from "./fileTrouble.js"
import type * as FlushScheduler from "./flushScheduler.js"
import * as HandlePool from "./handlePool.js"
import { AUDIO, streamPath, TAPE, VIDEO, wavName } from "./layout.js"
import * as NameRecord from "./nameRecord.js"
import type * as Restore from "./restore.js"
import { type Run as SampleRun, SampleRuns } from "./sampleRuns.js"
import * as SessionState from "./sessionState.js"
import * as SettledChat from "./settledChat.js"
import * as SettledIntervals from "./settledIntervals.js"
import type * as SettledLog from "./settledLog.js"
import * as SettledTranscript from "./settledTranscript.js"
import { lineMaker } from "./tapeLine.js"

/**
 * Everything one session's recording writes, and when. Events are applied to the session's state synchronously, a
 * chunk at a time (see `SessionState`); what they produce is collected per file: tape lines, control lines, runs of
 * samples per WAV track, bytes per H.264 stream, PNG frames. A flush (the shared scheduler's tick, a full buffer,
 * the end) writes it with one call per file, in an order that makes the tape the commit point:
 *
 * 1. media: WAV runs (each track's header patched when `patchInterval` has passed), H.264 appends, PNG files;
 * 2. the tape, the control log, then the transcript's finals and the participants' intervals moved out of memory
 *    since the last flush (see `SettledLog`): once they are on disk, everything the logs hold has been applied and
 *    its media written, so the state at that moment is durable (a restart rebuilds it from the checkpoint and the
 *    logs), and `onFlushed` hears the position it reached;
 * 3. when due, the derived files (only those whose content changed), and `checkpoint.json`.
 *
 * What fails to be written stays collected and is tried again after a backoff (see `FileTrouble`): media up to a
 * bound per file, past which it is given up and counted; the tape and control log without bound, the session's
 * Stream waiting (backpressure) while too much is collected.
 *
 * @internal
 */

/** @internal */
export interface Settings {
  readonly session: SessionKey.SessionKey
  /** The session's folder (it exists). */
  readonly directory: string
  readonly audio: AudioTimeline.Options | undefined
  readonly exportInterval: number
  readonly exportBytesPerSecond: number
  readonly exportFilesPerSecond: number
  readonly checkpointInterval: number
  readonly patchInterval: number
  readonly flushInterval: number
  readonly maxOpenFiles: number
  readonly maxPendingBytes: number
  readonly onFlushed: ((session: SessionKey.SessionKey, position: string) => Effect.Effect<void>) | undefined
  /** Told of every change in the bytes this writer holds unwritten (for a budget across sessions). */
  readonly onPending?: ((delta: number) => void) | undefined
  /** Told when the bytes held reach `maxPendingBytes` (true), and when they are below it again (false). */
  readonly onFull?: ((full: boolean) => void) | undefined
  /** Told whenever the tape or the control log was written. */
  readonly onLogsWritten?: ((now: number) => void) | undefined
}

/** @internal */
export interface SessionWriter {
  /** Applies one event synchronously: what it produces is collected for the next flush. `now` is epoch ms. */
  readonly apply: (item: SessionEvent.SessionEvent, now: number) => void
  /** Applies a chunk of the session's events; waits for a flush when too much is waiting to be written. */
  readonly accept: (items: Chunk.Chunk<SessionEvent.SessionEvent>) => Effect.Effect<void>
  /** Writes what was collected (media, then the tape and control log; derived files and checkpoint when due). */
  readonly flush: Effect.Effect<void>
  /** Bytes collected and not written yet that count towards `maxPendingBytes` (see `onPending`). */
  readonly pending: () => number
  /** Bytes of the tape and control log not written yet, and since when their writes fail (0: they do not). */
  readonly logs: () => { readonly pending: number; readonly failingSince: number }
  /** Gives up what the tape and control log hold unwritten, counted and reported as lost. */
  readonly giveUpLogs: Effect.Effect<void>
  /** The last flush: everything collected, the derived files and the checkpoint. */
  readonly finish: Effect.Effect<void>
  /** Records a problem met outside the events (the source failed) in the summary and the log. */
  readonly report: (source: string, message: string) => Effect.Effect<void>
  readonly summary: () => SessionSummary.SessionSummary
}

/** A flush in which some writes failed: its span's status (what failed is kept and tried again). */
class FlushFailed extends Data.TaggedError("FlushFailed")<{ readonly failures: number }> {
  override get message(): string {
    return `${this.failures} writes failed`
  }
}

/** The bytes a flush hands to the disk, and the files they go to (what its span reports). */
const sizeOf = (
  logs: ReadonlyArray<ReadonlyArray<Uint8Array> | undefined>,
  wavJobs: ReadonlyArray<readonly [unknown, ReadonlyArray<SampleRun>]>,
  streamJobs: ReadonlyArray<readonly [unknown, ReadonlyArray<Uint8Array> | undefined]>,
  frames: ReadonlyArray<{ readonly bytes: Uint8Array }>
): { readonly bytes: number; readonly files: number } => {
  let bytes = 0
  let files = frames.length
  for (const data of [...logs, ...streamJobs.map(([, data]) => data)]) {
    if (data === undefined) continue
    files++
    for (const view of data) bytes += view.byteLength
  }
  for (const [, runs] of wavJobs) {
    if (runs.length > 0) files++
    for (const run of runs) bytes += run.length * Int16Array.BYTES_PER_ELEMENT
  }
  for (const frame of frames) bytes += frame.bytes.byteLength
  return { bytes, files }
}

/** The files rendered from the transcript. */
const TRANSCRIPT_FILES = Exports.FILES.filter((name) => name.startsWith("transcript."))

/** The file rendered from the roster. */
const PARTICIPANTS_FILE = "participants.json"
/** The file rendered from the chat. */
const CHAT_FILE = "chat.json"

/** How many bytes of each settled file a state goes with (see `SettledLog`). */
interface SettledEnds {
  readonly finals: number
  readonly intervals: number
  readonly chat: number
}

/** Media bytes kept for a file that cannot be written, before they are given up. */
const MEDIA_RETAINED_BYTES = 256 * 1024

interface Track {
  readonly file: string
  readonly runs: SampleRuns
  written: boolean
  lastPatch: number
}

interface StreamFile {
  readonly file: string
  readonly buffer: AppendBuffer
}

type Handle =
  | { readonly _tag: "Wav"; readonly wav: WavWriter.WavWriter }
  | { readonly _tag: "Stream"; readonly file: FileSystem.File }

const errorText = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

const digest = (text: string): string => Crypto.createHash("sha1").update(text).digest("base64")

/**
 * A fraction in [0, 1) that a session key picks, the same every time (see `SessionKey.hash`): where in the budget's
 * interval the session's first refresh falls.
 *
 * @internal
 */
export const fractionOf = (key: string): number => SessionKey.hash(key) / 2 ** 32

/** @internal */
export const make = (
  settings: Settings,
  restored: Restore.Restored,
  scheduler: FlushScheduler.FlushScheduler
): Effect.Effect<SessionWriter, PlatformError.PlatformError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const clock = yield* Effect.clock
    // flushes are spanned only under a tracer that exports somewhere (not Effect's built-in one): decided once
    const traced = (yield* FiberRef.get(FiberRef.currentTracerEnabled)) &&
      (yield* Effect.tracer) !== Context.get(DefaultServices.liveServices, Tracer.Tracer)
    // the settled files are opened later, in a scope made now: it closes after the last flush (the finalizer
    // added last runs first)
    const settledScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const dir = settings.directory
    const key = settings.session
    const who = `session ${Printable.text(key)}`
    const controlPath = path.join(dir, ControlLog.FILE)

    // the logs exist from the start (an empty control log marks a folder of this format); in a folder made just
    // now the tape is created as it is opened
    const tapePath = path.join(dir, TAPE)
    if (!restored.fresh) yield* fs.writeFile(tapePath, new Uint8Array(0), { flag: "a" })
    yield* fs.writeFile(controlPath, new Uint8Array(0), { flag: "a" })
    const tapeFile = yield* fs.open(tapePath, { flag: restored.fresh ? "wx+" : "r+" })
    const tape = new AppendBuffer(restored.offsets.tape.bytes, restored.offsets.tape.lines)
    // a control log gets a line now and then: it holds a block of the pool only while a line waits
    const control = new AppendBuffer(restored.offsets.control.bytes, restored.offsets.control.lines)
    // what the state moves out of memory (see `SettledLog`): the transcript's older finals, the participants'
    // closed intervals and the chat's older messages, a few lines now and then, like the control log. Each file is
    // opened at its first write and kept open, as the tape is (an open and a close every few seconds per session
    // added up to a tenth of the recorder thread at 1,000 sessions)
    const settledLogOf = (file: string, place: { readonly bytes: number; readonly lines: number }) => {
      const filePath = path.join(dir, file)
      let opened: FileSystem.File | undefined
      return {
        file,
        path: filePath,
        buffer: new AppendBuffer(place.bytes, place.lines),
        open: Effect.suspend(() =>
          opened !== undefined ? Effect.succeed(opened) : Effect.gen(function*() {
            yield* fs.writeFile(filePath, new Uint8Array(0), { flag: "a" })
            opened = yield* Scope.extend(fs.open(filePath, { flag: "r+" }), settledScope)
            return opened
          })
        )
      }
    }
    const finals = settledLogOf(SettledTranscript.FILE, restored.offsets.settled)
    const intervals = settledLogOf(SettledIntervals.FILE, restored.offsets.intervals)
    const chat = settledLogOf(SettledChat.FILE, restored.offsets.chat)
    const settledLogs = [finals, intervals, chat]
    let lastSettleAt = 0
    // the logs: the tape, the control log and the settled files
    const logBuffers = [tape, control, ...settledLogs.map((log) => log.buffer)]
    // what the logs hold unwritten
    const logsPending = () => logBuffers.reduce((bytes, log) => bytes + log.pending, 0)
    const lineOf = lineMaker(restored.tapeAt)
    let tapeLines = restored.offsets.tape.lines

    const state = new SessionState.SessionState(restored.snapshot, settings.audio)
    const trouble = new FileTrouble()
    const base = restored.counts
    // by file (what the handle pool knows) and by track key (what each write names)
    const tracks = new Map<string, Track>()
    const byKey = new Map<string, Track>()
    const streams = new Map<string, StreamFile>()
    let frames: Array<{ readonly folder: string; readonly file: string; readonly bytes: Uint8Array }> = []
    const folders = new Set<string>()
    // bytes collected that count towards an early flush: everything since the last flush, then what the tape and
    // control log still hold (media kept for a file that fails does not count: it is bounded per file)
    let staged = 0
    let full = false
    const stage = (bytes: number) => {
      staged += bytes
      settings.onPending?.(bytes)
      if (!full && staged >= settings.maxPendingBytes) {
        full = true
        settings.onFull?.(true)
      }
    }
    const restage = (bytes: number) => {
      settings.onPending?.(bytes - staged)
      staged = bytes
      if (full && staged < settings.maxPendingBytes) {
        full = false
        settings.onFull?.(false)
      }
    }

    // logs are collected by the synchronous code and emitted after it, each kind once per session
    const said = new Set<string>()
    let logs: Array<Effect.Effect<void>> = []
    const once = (what: string, log: () => Effect.Effect<void>) => {
      if (said.has(what)) return
      said.add(what)
      logs.push(log())
    }

    const pool = yield* HandlePool.make<Handle, WavWriter.WavError | PlatformError.PlatformError>(
      settings.maxOpenFiles,
      (file) => {
        // a closed WAV writer patches its header as it closes
        const track = tracks.get(file)
        if (track !== undefined) track.written = false
        RecorderMetrics.handlesClosed.unsafeUpdate(1, [])
        once("handles", () =>
          Effect.logWarning(
            `${who}: more than ${settings.maxOpenFiles} track files in use: closing the least recently used ones ` +
              `and opening them again when needed (counted in session.json as recorder.handlesClosed)`
          ))
      }
    )

    const trackOf = (key: AudioTimeline.TrackKey): Track => {
      let track = byKey.get(key)
      if (track === undefined) {
        const file = `${AUDIO}/${wavName(key)}`
        track = tracks.get(file) ?? { file, runs: new SampleRuns(), written: false, lastPatch: 0 }
        tracks.set(file, track)
        byKey.set(key, track)
      }
      return track
    }

    const out: SessionState.Output = {
      message: (message) => {
        const length = lineOf(message, tape)
        tapeLines++
        stage(length)
      },
      control: (event) => {
        control.append(ControlLog.format(tapeLines, event), 1)
      },
      samples: (write) => {
        trackOf(write.track).runs.add(write.offset, write.samples)
        stage(write.samples.byteLength)
      },
      frame: (frame: FrameWriter.Frame) => {
        stage(frame.bytes.byteLength)
        if (frame._tag === "Png") {
          const folder = [VIDEO, ...frame.folder].join("/")
          frames.push({ folder, file: `${folder}/${frame.file}`, bytes: frame.bytes })
          return
        }
        const file = streamPath(frame)
        let stream = streams.get(file)
        if (stream === undefined) {
          // its committed size is read when the file is first opened
          stream = { file, buffer: new AppendBuffer(-1) }
          streams.set(file, stream)
        }
        stream.buffer.append(frame.bytes)
      },
      problem: (source, message) =>
        once(
          `input ${source}`,
          () => Effect.logWarning(`${who}: ${source}: ${Printable.text(message, 300)} (further ones only counted)`)
        )
    }
    for (const write of restored.missingAudio) out.samples(write)

    // -- disk trouble ---------------------------------------------------------------

    let writeFailures = 0
    const failed = (file: string, cause: unknown, now: number) =>
      Effect.suspend(() => {
        writeFailures++
        RecorderMetrics.writeFailures.unsafeUpdate(1, [])
        if (!trouble.failed(file, now)) return Effect.void
        const text = errorText(cause)
        state.addError(now, file, text)
        return Effect.logWarning(
          `${who}: ${file}: ${Printable.text(text, 300)}; kept in memory and tried again later ` +
            `(further failures only counted)`
        )
      })

    const succeeded = (file: string) =>
      Effect.suspend(() => trouble.succeeded(file) ? Effect.logInfo(`${who}: ${file} is written again`) : Effect.void)

    const attempt = <E>(file: string, now: number, write: Effect.Effect<void, E>) =>
      write.pipe(
        Effect.zipRight(succeeded(file)),
        Effect.as(true),
        Effect.catchAll((cause) => Effect.as(failed(file, cause, now), false))
      )

    // logged once per file, counted always
    const giveUp = (file: string, bytes: number) => {
      if (bytes === 0) return
      trouble.lose(bytes)
      RecorderMetrics.lostBytes.unsafeUpdate(bytes, [])
      once(`lost ${file}`, () =>
        Effect.logWarning(
          `${who}: gave up ${bytes} bytes of ${file} that could not be written for too long ` +
            `(further losses only counted, in session.json as recorder.lostBytes)`
        ))
    }

    const ensureFolder = (folder: string) =>
      folders.has(folder)
        ? Effect.void
        : Effect.tap(fs.makeDirectory(path.join(dir, folder), { recursive: true }), () => folders.add(folder))

    // -- media ----------------------------------------------------------------------

    const openWav = (track: Track) =>
      pool.get(
        track.file,
        WavWriter.make(path.join(dir, track.file), { patchInterval: settings.patchInterval, patchInBackground: false })
          .pipe(Effect.map((wav): Handle => ({ _tag: "Wav", wav })), Effect.provideService(FileSystem.FileSystem, fs))
      ).pipe(Effect.flatMap((handle) => handle._tag === "Wav" ? Effect.succeed(handle.wav) : Effect.die("not a WAV")))

    // a header is patched in the first flush at least patchInterval - flushInterval after the last patch, so it
    // declares data at most patchInterval after the data arrived
    const patchDue = (track: Track, now: number, force: boolean) =>
      track.written && (force || now - track.lastPatch >= settings.patchInterval - settings.flushInterval)

    const writeTrack = (track: Track, runs: ReadonlyArray<SampleRun>, now: number, force: boolean) =>
      Effect.flatMap(openWav(track), (wav) => {
        const patch = Effect.suspend(() => {
          if (!patchDue(track, now, force)) return Effect.void
          return Effect.tap(wav.flush, () => {
            track.written = false
            track.lastPatch = now
          })
        })
        if (runs.length === 0) return patch
        const written = (run: SampleRun) => () => {
          track.runs.written(run)
          track.written = true
        }
        const data = runs.length === 1
          ? Effect.tap(wav.write(runs[0]!.offset, runs[0]!.chunks), written(runs[0]!))
          : Effect.forEach(runs, (run) => Effect.tap(wav.write(run.offset, run.chunks), written(run)), {
            discard: true
          })
        return Effect.zipRight(data, patch)
      })

    const flushTrack = (track: Track, runs: ReadonlyArray<SampleRun>, now: number, force: boolean) => {
      if (runs.length === 0 && !patchDue(track, now, force)) return Effect.void
      const tried = force || trouble.canTry(track.file, now)
        ? attempt(track.file, now, writeTrack(track, runs, now, force))
        : Effect.succeed(false)
      return Effect.map(tried, (ok) => {
        if (!ok && track.runs.pending * 2 > MEDIA_RETAINED_BYTES) giveUp(track.file, track.runs.drop() * 2)
      })
    }

    const openStream = (stream: StreamFile) =>
      pool.get(
        stream.file,
        Effect.gen(function*() {
          const file = path.join(dir, stream.file)
          yield* ensureFolder(stream.file.slice(0, stream.file.lastIndexOf("/")))
          yield* fs.writeFile(file, new Uint8Array(0), { flag: "a" })
          const handle = yield* fs.open(file, { flag: "r+" })
          if (stream.buffer.committed < 0) stream.buffer.committed = Number((yield* handle.stat).size)
          return { _tag: "Stream", file: handle } as Handle
        })
      ).pipe(
        Effect.flatMap((handle) => handle._tag === "Stream" ? Effect.succeed(handle.file) : Effect.die("not a file"))
      )

    const flushStream = (
      stream: StreamFile,
      bytes: ReadonlyArray<Uint8Array> | undefined,
      now: number,
      force: boolean
    ) => {
      if (bytes === undefined) return Effect.void
      const tried = force || trouble.canTry(stream.file, now)
        ? attempt(stream.file, now, Effect.flatMap(openStream(stream), (file) => stream.buffer.write(file, bytes)))
        : Effect.succeed(false)
      return Effect.map(tried, (ok) => {
        if (!ok && stream.buffer.pending > MEDIA_RETAINED_BYTES) giveUpStream(stream)
      })
    }

    // a stream's bytes given up are also recorded in the control log: the stream then holds fewer bytes than the
    // frames applied put into it, which a restart's cut takes into account
    const giveUpStream = (stream: StreamFile) => {
      const bytes = stream.buffer.drop()
      if (bytes > 0) control.append(ControlLog.formatGivenUp(tapeLines, stream.file, bytes), 1)
      giveUp(stream.file, bytes)
    }

    // a frame is a file of its own; frames that cannot be written wait for the next flush, up to the bound per folder
    const flushFrames = (batch: ReadonlyArray<(typeof frames)[number]>, now: number, force: boolean) =>
      batch.length === 0 ? Effect.void : Effect.forEach(
        batch,
        (frame) =>
          force || trouble.canTry(frame.folder, now)
            ? attempt(
              frame.folder,
              now,
              Effect.zipRight(ensureFolder(frame.folder), fs.writeFile(path.join(dir, frame.file), frame.bytes))
            )
            : Effect.succeed(false),
        { concurrency: 4 }
      ).pipe(Effect.map((written) => {
        const kept = new Map<string, number>()
        batch.forEach((frame, i) => {
          if (written[i]) return
          const held = (kept.get(frame.folder) ?? 0) + frame.bytes.byteLength
          if (held > MEDIA_RETAINED_BYTES) return giveUp(frame.folder, frame.bytes.byteLength)
          kept.set(frame.folder, held)
          frames.push(frame)
        })
      }))

    // -- derived files and checkpoint -------------------------------------------------

    const writeFile = (name: string, text: string) =>
      replaceFile(path.join(dir, name), text).pipe(Effect.provideService(FileSystem.FileSystem, fs))

    const counts = (): Checkpoint.RecorderCounts => ({
      handlesClosed: base.handlesClosed + pool.closed(),
      writeFailures: base.writeFailures + trouble.counts.failures,
      lostBytes: base.lostBytes + trouble.counts.lostBytes
    })

    let extraKey: readonly [unknown, unknown, string] | undefined
    let extra: Record<string, unknown> = {}
    const extraOf = (snapshot: SessionState.Snapshot): Record<string, unknown> => {
      const c = counts()
      const recorder = {
        maxOpenFiles: settings.maxOpenFiles,
        handlesClosed: c.handlesClosed,
        writeFailures: c.writeFailures,
        lostBytes: c.lostBytes,
        failingFiles: trouble.counts.failing,
        redeliveriesSkipped: snapshot.skipped,
        restoredFrom: restored.from
      }
      const version = JSON.stringify(recorder)
      if (extraKey?.[0] === snapshot.timeline.tracks && extraKey[1] === snapshot.video && extraKey[2] === version) {
        return extra
      }
      extraKey = [snapshot.timeline.tracks, snapshot.video, version]
      const audio: Record<string, unknown> = {}
      for (const [track, t] of Object.entries(snapshot.timeline.tracks)) {
        audio[track] = {
          file: `${AUDIO}/${wavName(track as AudioTimeline.TrackKey)}`,
          seconds: AudioTimeline.secondsOf(t.frontier),
          chunks: t.chunks,
          late: t.late,
          repeatedSamples: t.repeatedSamples,
          droppedSamples: t.droppedSamples,
          invalid: t.invalid
        }
      }
      extra = { audio, video: snapshot.video, recorder }
      return extra
    }

    // what the last complete refresh rendered: the state in memory, and the ends of the settled files it went with
    let exported: Exports.Snapshot | undefined
    let exportedEnds: SettledEnds = { finals: 0, intervals: 0, chat: 0 }
    const hashes = new Map<string, string>()
    // when the next refresh is due; none yet: the first one is placed at the first flush (see `firstRefreshAt`)
    let nextExportAt: number | undefined
    let checkpointed: SessionState.Snapshot | undefined
    let lastCheckpointAt = clock.unsafeCurrentTimeMillis()
    let checkpointCounts = ""

    // A session's first refresh writes every derived file. When sessions start together (a server's ramp: 1,000 bots
    // in a few seconds) and the budget's interval for that much is longer than `exportInterval`, the first refreshes
    // are spread over that interval, each session at a point its key picks; otherwise (few sessions) it is due at
    // once. Unspread, a ramp of 1,000 sessions rendered and wrote 7,000 files within its first seconds, over 100 s of
    // the files-per-second budget, while the recorder was busiest opening the sessions' files.
    const firstRefreshAt = (now: number, live: number): number => {
      const spread = (Exports.FILES.length * Math.max(1, live) * 1000) / settings.exportFilesPerSecond
      return spread <= settings.exportInterval ? now : now + Math.floor(fractionOf(key) * spread)
    }

    // the values of a settled file up to `end` (none while the file does not hold them all: a write that failed)
    const readBack = <A>(read: SettledLog.SettledLog<A>["read"], filePath: string, end: number) =>
      Effect.map(
        Effect.option(read(filePath, end).pipe(Effect.provideService(FileSystem.FileSystem, fs))),
        Option.flatten
      )

    const writeExports = (snapshot: SessionState.Snapshot, ends: SettledEnds, now: number, force: boolean) =>
      Effect.gen(function*() {
        const next: Exports.Snapshot = {
          transcript: snapshot.transcript,
          participants: snapshot.participants,
          summary: snapshot.summary,
          extra: extraOf(snapshot)
        }
        const work = { files: 0, bytes: 0 }
        let complete = true
        const names = new Set(Exports.changedFiles(exported, next))
        if (ends.finals !== exportedEnds.finals) { for (const name of TRANSCRIPT_FILES) names.add(name) }
        if (ends.intervals !== exportedEnds.intervals) names.add(PARTICIPANTS_FILE)
        if (ends.chat !== exportedEnds.chat) names.add(CHAT_FILE)
        // the transcript files are rendered from the settled finals (read back for the moment) and those in memory,
        // `participants.json` from the settled intervals and the roster, `chat.json` from the settled messages and
        // those held; while a settled file does not hold all it should (a write that failed), what is rendered from
        // it waits
        const withSettled = <S, A>(
          value: S,
          files: ReadonlyArray<Exports.FileName>,
          read: SettledLog.SettledLog<A>["read"],
          filePath: string,
          end: number,
          add: (value: S, settled: ReadonlyArray<A>) => S
        ) =>
          Effect.gen(function*() {
            if (end === 0 || !files.some((name) => names.has(name))) return value
            const back = yield* readBack(read, filePath, end)
            if (Option.isSome(back)) return add(value, back.value)
            for (const name of files) names.delete(name)
            complete = false
            return value
          })
        const transcript = yield* withSettled(
          snapshot.transcript,
          TRANSCRIPT_FILES,
          SettledTranscript.read,
          finals.path,
          ends.finals,
          Transcript.withSettled
        )
        const roster = yield* withSettled(
          snapshot.participants,
          [PARTICIPANTS_FILE],
          SettledIntervals.read,
          intervals.path,
          ends.intervals,
          Participants.withSettled
        )
        const participants = yield* withSettled(
          roster,
          [CHAT_FILE],
          SettledChat.read,
          chat.path,
          ends.chat,
          Participants.withSettledChat
        )
        for (const [name, text] of Object.entries(Exports.renderFiles({ ...next, transcript, participants }, names))) {
          work.bytes += text.length
          const hash = digest(text)
          if (hashes.get(name) === hash) continue
          work.files++
          const ok = (force || trouble.canTry(name, now)) &&
            (yield* attempt(name, now, writeFile(name, text)))
          if (ok) hashes.set(name, hash)
          else complete = false
        }
        // after a failure, the next refresh renders every file again (unchanged ones are skipped by their hash)
        exported = complete ? next : undefined
        exportedEnds = complete ? ends : { finals: -1, intervals: -1, chat: -1 }
        return work
      })

    const writeCheckpoint = (snapshot: SessionState.Snapshot, offsets: Checkpoint.Offsets, now: number) =>
      Effect.gen(function*() {
        const c = counts()
        const version = JSON.stringify(c)
        if (snapshot === checkpointed && version === checkpointCounts) return { files: 0, bytes: 0 }
        const text = Checkpoint.render(snapshot, offsets, c)
        if (yield* attempt(Checkpoint.FILE, now, writeFile(Checkpoint.FILE, text))) {
          checkpointed = snapshot
          checkpointCounts = version
          lastCheckpointAt = now
        }
        return { files: 1, bytes: text.length }
      })

    // -- the flush ------------------------------------------------------------------

    let reported: string | undefined = restored.snapshot.position
    // a `SessionEnded` was applied: the last flush is coming, and reports what the ones before it would have
    let endApplied = false
    let logsFailingSince = 0
    const lock = yield* Effect.makeSemaphore(1)
    const derivedLock = yield* Effect.makeSemaphore(1)
    const scope = yield* Effect.scope
    let deriving = false
    // refreshes started, and the last one that wrote
    let derives = 0
    let derived = 0

    // the bytes of each H.264 stream that belong to the state (for the checkpoint, taken with it): those on disk
    // at the start, or written since, and those waiting. Unlike the WAVs' positioned writes, stream appends are not
    // idempotent, so a restart cuts each stream back to these plus the frames it replays (see `Restore`)
    const streamEnds = (): Record<string, number> => {
      const sizes = NameRecord.empty<number>()
      Object.assign(sizes, restored.offsets.streams)
      for (const stream of streams.values()) {
        const written = stream.buffer.committed >= 0 ? stream.buffer.committed : NameRecord.get(sizes, stream.file) ?? 0
        sizes[stream.file] = written + stream.buffer.pending
      }
      return sizes
    }

    const pendingBytes = () => {
      let bytes = logsPending()
      for (const track of tracks.values()) bytes += track.runs.pending * 2
      for (const stream of streams.values()) bytes += stream.buffer.pending
      for (const frame of frames) bytes += frame.bytes.byteLength
      return bytes
    }

    let finished = false
    // flushes asked for and not done yet (one running, others waiting for it)
    let flushing = 0
    const flush = (live: number, force: boolean): Effect.Effect<void> =>
      Effect.suspend(() => {
        flushing++
        return Effect.ensuring(flushLocked(live, force), Effect.sync(() => flushing--))
      })
    const flushLocked = (live: number, force: boolean): Effect.Effect<void> =>
      lock.withPermits(1)(
        Effect.suspend(() => {
          // the last flush closed the books: a tick that was waiting for the lock finds nothing to do
          if (finished && !force) return Effect.void
          // what this flush writes is taken in one synchronous step, together with the state it leads to
          const now = clock.unsafeCurrentTimeMillis()
          // the transcript's older finals, the participants' closed intervals and the chat's older messages leave
          // memory for their files (at most every exportInterval)
          if (!force && now - lastSettleAt >= settings.exportInterval) {
            lastSettleAt = now
            for (const utterance of state.settle(SettledTranscript.WINDOW)) {
              finals.buffer.append(SettledTranscript.line(utterance), 1)
            }
            for (const interval of state.settleIntervals()) {
              intervals.buffer.append(SettledIntervals.line(interval), 1)
            }
            for (const message of state.settleChat(SettledChat.WINDOW)) chat.buffer.append(SettledChat.line(message), 1)
          }
          // the ends of the settled files the snapshot goes with
          const ends: SettledEnds = {
            finals: finals.buffer.committed + finals.buffer.pending,
            intervals: intervals.buffer.committed + intervals.buffer.pending,
            chat: chat.buffer.committed + chat.buffer.pending
          }
          const snapshot = state.snapshot
          const streamsAtSnapshot = streamEnds()
          const tapeBytes = tape.take()
          const controlBytes = control.take()
          const settledJobs = settledLogs.map((log) => [log, log.buffer.take()] as const)
          const wavJobs = Array.from(tracks.values(), (track) => [track, track.runs.take()] as const)
          const streamJobs = Array.from(streams.values(), (stream) => [stream, stream.buffer.take()] as const)
          const batch = frames
          frames = []
          const work = Effect.gen(function*() {
            // 1. media
            for (const [track, runs] of wavJobs) yield* flushTrack(track, runs, now, force)
            for (const [stream, bytes] of streamJobs) yield* flushStream(stream, bytes, now, force)
            yield* flushFrames(batch, now, force)
            // 2. the tape, the control log and the settled finals: the commit point
            let committed = true
            if (tapeBytes !== undefined) {
              committed = (force || trouble.canTry(TAPE, now)) &&
                (yield* attempt(TAPE, now, tape.write(tapeFile, tapeBytes)))
            }
            if (committed && controlBytes !== undefined) {
              committed = (force || trouble.canTry(ControlLog.FILE, now)) &&
                (yield* attempt(
                  ControlLog.FILE,
                  now,
                  Effect.scoped(
                    Effect.flatMap(fs.open(controlPath, { flag: "r+" }), (file) => control.write(file, controlBytes))
                  )
                ))
            }
            let settledTaken = false
            for (const [log, bytes] of settledJobs) {
              if (bytes === undefined) continue
              settledTaken = true
              if (!committed) continue
              committed = (force || trouble.canTry(log.file, now)) &&
                (yield* attempt(log.file, now, Effect.flatMap(log.open, (file) => log.buffer.write(file, bytes))))
            }
            if (tapeBytes !== undefined || controlBytes !== undefined || settledTaken) {
              if (committed) {
                logsFailingSince = 0
                settings.onLogsWritten?.(now)
              } else if (logsFailingSince === 0 && logsPending() > 0) {
                logsFailingSince = now
              }
            }
            const offsets: Checkpoint.Offsets = {
              tape: { bytes: tape.committed, lines: tape.committedItems },
              control: { bytes: control.committed, lines: control.committedItems },
              settled: { bytes: finals.buffer.committed, lines: finals.buffer.committedItems },
              intervals: { bytes: intervals.buffer.committed, lines: intervals.buffer.committedItems },
              chat: { bytes: chat.buffer.committed, lines: chat.buffer.committedItems },
              streams: streamsAtSnapshot
            }
            // the position reached is reported once the logs hold it; once the session's end is applied, only by
            // the last flush, after the derived files and the checkpoint are written: a transport acknowledges on
            // it and forgets a session whose end it acknowledged, so a crash in between would leave them stale
            const position = committed && snapshot.position !== reported && (force || !endApplied)
              ? snapshot.position
              : undefined
            const flushedTo = position === undefined || settings.onFlushed === undefined
              ? Effect.void
              : settings.onFlushed(key, position).pipe(
                Effect.catchAllCause((cause) => Effect.logWarning(`${who}: onFlushed failed`, cause))
              )
            if (position !== undefined) reported = position
            if (!force) yield* flushedTo
            // what the logs still hold counts towards the next early flush; media kept for a file
            // that fails does not (it is bounded per file)
            restage(logsPending())
            // 3. derived files and the checkpoint, when due: the last flush waits for them; otherwise they are
            // written beside the next flushes (a session's media and tape never wait for its derived files), and
            // a refresh still going when the next one is due lets that one pass
            nextExportAt ??= firstRefreshAt(now, live)
            const refresh = force || now >= nextExportAt
            const exportDue = refresh && (force || snapshot.summary !== exported?.summary)
            const checkpointDue = committed && refresh &&
              (force || now - lastCheckpointAt >= settings.checkpointInterval)
            if (exportDue || checkpointDue) {
              const work = derive(++derives, snapshot, ends, offsets, now, live, force, exportDue, checkpointDue)
              if (force) yield* work
              else if (!deriving) {
                deriving = true
                yield* Effect.forkIn(Effect.ensuring(work, Effect.sync(() => (deriving = false))), scope)
              }
            }
            if (force) yield* flushedTo
            yield* emitLogs
          })
          if (!traced) return work
          const { bytes, files } = sizeOf([tapeBytes, controlBytes], wavJobs, streamJobs, batch)
          return bytes === 0 && !force ? work : flushSpan(work, bytes, files, force)
        }).pipe(Effect.uninterruptible)
      )

    // a flush that writes something (and the last one) is a span; writes that failed make it an error
    const flushSpan = (work: Effect.Effect<void>, bytes: number, files: number, final: boolean) =>
      Effect.suspend(() => {
        const before = writeFailures
        return work.pipe(
          Effect.zipRight(Effect.suspend(() => {
            const failures = writeFailures - before
            return failures === 0 ? Effect.void : Effect.fail(new FlushFailed({ failures }))
          })),
          Effect.withSpan("callstream.recorder.flush", {
            root: true,
            attributes: {
              "callstream.session.key": Printable.text(key),
              "callstream.flush.bytes": bytes,
              "callstream.flush.files": files,
              "callstream.flush.final": final
            }
          }),
          Effect.catchTag("FlushFailed", () => Effect.void)
        )
      })

    // the next refresh waits until this one's work (files written, bytes rendered) times the live sessions fits in
    // the recorder's budget
    const derive = (
      seq: number,
      snapshot: SessionState.Snapshot,
      ends: SettledEnds,
      offsets: Checkpoint.Offsets,
      now: number,
      live: number,
      force: boolean,
      exportDue: boolean,
      checkpointDue: boolean
    ) =>
      derivedLock.withPermits(1)(Effect.gen(function*() {
        // a refresh that got the lock after a later one (the last flush's) has nothing newer to write
        if (seq < derived) return
        derived = seq
        let files = 0
        let bytes = 0
        if (exportDue) {
          const work = yield* writeExports(snapshot, ends, now, force)
          files += work.files
          bytes += work.bytes
        }
        if (checkpointDue) {
          const work = yield* writeCheckpoint(snapshot, offsets, now)
          files += work.files
          bytes += work.bytes
        }
        if (bytes > 0) {
          const sessions = Math.max(1, live)
          const interval = Math.max(
            settings.exportInterval,
            (files * sessions * 1000) / settings.exportFilesPerSecond,
            (bytes * sessions * 1000) / settings.exportBytesPerSecond
          )
          nextExportAt = now + interval
          RecorderMetrics.exportInterval.unsafeUpdate(interval / 1000, [])
        }
        yield* emitLogs
      }))

    const emitLogs = Effect.suspend(() => {
      if (logs.length === 0) return Effect.void
      const pending = logs
      logs = []
      return Effect.all(pending, { discard: true })
    })

    // too much collected is written at once; while the tape and control log cannot take it (a disk that fails), the
    // session waits for them (media that cannot be written is bounded per file, and given up past that)
    const relieve: Effect.Effect<void> = Effect.suspend(() => {
      if (staged < settings.maxPendingBytes) return Effect.void
      return flush(scheduler.live(), false).pipe(
        Effect.zipRight(Effect.suspend(() => {
          if (logsPending() < settings.maxPendingBytes) return Effect.void
          const now = clock.unsafeCurrentTimeMillis()
          const retryAt = Math.min(
            trouble.retryAt(TAPE, now),
            trouble.retryAt(ControlLog.FILE, now),
            trouble.retryAt(SettledTranscript.FILE, now),
            trouble.retryAt(SettledIntervals.FILE, now),
            trouble.retryAt(SettledChat.FILE, now)
          )
          const wait = Math.max(50, retryAt - now)
          return Effect.zipRight(Effect.sleep(wait), relieve)
        }))
      )
    })

    const apply = (item: SessionEvent.SessionEvent, now: number): void => {
      if (item._tag === "SessionEnded") endApplied = true
      try {
        if (!state.apply(item, now, out)) RecorderMetrics.redeliveriesSkipped.unsafeUpdate(1, [])
      } catch (cause) {
        state.addError(now, "recorder", errorText(cause))
        once("recorder", () => Effect.logError(`${who}: an event could not be recorded`, cause))
      }
    }

    const accept = (items: Chunk.Chunk<SessionEvent.SessionEvent>): Effect.Effect<void> =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        for (const item of items) apply(item, now)
        const pending = logs
        logs = []
        return pending.length === 0 ? relieve : Effect.zipRight(Effect.all(pending, { discard: true }), relieve)
      })

    const giveUpLogs = Effect.suspend(() => {
      const unwritten = logBuffers.reduce((lines, log) => lines + log.pendingItems, 0)
      if (unwritten === 0) return Effect.void
      state.addError(clock.unsafeCurrentTimeMillis(), TAPE, `${unwritten} lines could not be written`)
      giveUp(TAPE, logBuffers.reduce((bytes, log) => bytes + log.drop(), 0))
      restage(0)
      const pending = logs
      logs = []
      return Effect.all(pending, { discard: true })
    })

    let finishing = false
    const finish = Effect.suspend(() => {
      if (finishing) return Effect.void
      finishing = true
      // what the last flush could not write is given up and counted; problems it met (a file it could not write,
      // or could again) show only after it: one more flush puts them into session.json and the checkpoint
      const lastFlush = Effect.suspend(() => {
        const before = state.snapshot
        const counted = JSON.stringify(trouble.counts)
        return flush(scheduler.live(), true).pipe(
          Effect.zipRight(Effect.suspend(() => {
            if (state.snapshot === before && pendingBytes() === 0 && JSON.stringify(trouble.counts) === counted) {
              return Effect.void
            }
            for (const track of tracks.values()) giveUp(track.file, track.runs.drop() * 2)
            for (const frame of frames) giveUp(frame.folder, frame.bytes.byteLength)
            frames = []
            // the logs the last flush could not write are given up first: the lines that record the streams'
            // bytes given up come after them, for the flush that follows
            return Effect.zipRight(
              giveUpLogs,
              Effect.suspend(() => {
                for (const stream of streams.values()) giveUpStream(stream)
                return flush(scheduler.live(), true)
              })
            )
          }))
        )
      })
      return Effect.zipRight(lastFlush, Effect.sync(() => (finished = true)))
    })

    // a tick finds a session still flushing (a slow disk) and lets it be: it flushes at its next turn
    yield* scheduler.register({ flush: (live) => flushing > 0 ? Effect.void : flush(live, false) })
    yield* Effect.addFinalizer(() => finish)
    const report = (source: string, message: string) =>
      Effect.suspend(() => {
        state.addError(clock.unsafeCurrentTimeMillis(), source, message)
        return Effect.logWarning(`${who}: ${source}: ${Printable.text(message, 2000)}`)
      })

    return {
      apply,
      accept,
      flush: Effect.suspend(() => flush(scheduler.live(), false)),
      pending: () => staged,
      logs: () => ({ pending: logsPending(), failingSince: logsFailingSince }),
      giveUpLogs,
      finish,
      report,
      summary: () => state.snapshot.summary
    }
  })
