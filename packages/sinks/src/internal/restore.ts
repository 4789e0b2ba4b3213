import { Decoder, SessionEvent, type SessionKey, Tape } from "@callstream/core"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as AudioTimeline from "../AudioTimeline.js"
import * as Participants from "../Participants.js"
import * as SessionSummary from "../SessionSummary.js"
import * as TapeRecorder from "../TapeRecorder.js"
import * as Transcript from "../Transcript.js"
import { HEADER_BYTES } from "../WavWriter.js"
import * as Checkpoint from "./checkpoint.js"
import * as ControlLog from "./controlLog.js"
import { readJson } from "./files.js"
import { AUDIO, streamPath, TAPE, VIDEO, wavName } from "./layout.js"
import { forEachLine, repairTail } from "./lines.js"
import * as NameRecord from "./nameRecord.js"
import * as SessionState from "./sessionState.js"
import * as SettledChat from "./settledChat.js"
import * as SettledIntervals from "./settledIntervals.js"
import type * as SettledLog from "./settledLog.js"
import * as SettledTranscript from "./settledTranscript.js"

/**
 * Where a session recorder starts in a folder that may hold an earlier run: the state in `checkpoint.json`, then
 * the rest of the tape and of the control log replayed through the reducers in their original order, so the state
 * equals what a recorder that never stopped would hold. A last line cut short by a kill is removed from both logs
 * first. Replayed audio is placed on the timeline again; only the samples the WAV files lack are written again.
 * `transcript.settled.jsonl` is cut back to what the checkpoint counted (finals moved out after it are replayed and
 * moved out again), and its finals' digests are held again so a repeat of one is recognized; without a usable
 * checkpoint it is emptied, as everything is replayed. `participants.settled.jsonl` (intervals moved out) and
 * `chat.settled.jsonl` (chat messages moved out, whose digests are held again too) likewise.
 *
 * A folder written before there were checkpoints and control logs is continued from its derived files instead.
 *
 * @internal
 */

/** @internal */
export interface Restored {
  readonly snapshot: SessionState.Snapshot
  readonly offsets: Checkpoint.Offsets
  readonly counts: Checkpoint.RecorderCounts
  /** The `at` of the tape's last line (0 when it has none), so an appended tape never goes back in time. */
  readonly tapeAt: number
  /** Samples the replay placed that the WAV files do not hold yet. */
  readonly missingAudio: ReadonlyArray<AudioTimeline.Write>
  /**
   * How the state was found: in a new folder, from a checkpoint, by replaying the logs from their start, or from an
   * earlier version's derived files.
   */
  readonly from: "new folder" | "checkpoint" | "logs" | "derived files"
  readonly replayedLines: number
  /**
   * Bytes cut from the end of H.264 streams: frames a kill left in a stream whose messages the tape does not hold
   * (the media of a flush is written before its tape lines), so that a source delivering them again (a scale-out
   * worker's) does not append them twice.
   */
  readonly cutStreamBytes: number
  /** The folder was made just now: none of its files exist, so they can be created without looking first. */
  readonly fresh: boolean
}

/**
 * Where a session starts in a folder made just now: nothing to look for. A meeting's start costs no probe of files
 * that cannot be there (each a failed system call, and an error built and dropped).
 *
 * @internal
 */
export const fresh = (session: SessionKey.SessionKey): Restored => ({
  snapshot: SessionState.empty(session),
  offsets: noOffsets,
  counts: zeroCounts,
  tapeAt: 0,
  missingAudio: [],
  from: "new folder",
  replayedLines: 0,
  cutStreamBytes: 0,
  fresh: true
})

const noSettled = { bytes: 0, lines: 0 }

// the places in the checkpoint's offsets of the files a recorder moves what it no longer holds to
type SettledPlace = "settled" | "intervals" | "chat"

/** The offsets of a state that nothing has been written for. */
const noOffsets: Checkpoint.Offsets = {
  tape: noSettled,
  control: noSettled,
  settled: noSettled,
  intervals: noSettled,
  chat: noSettled
}

const zeroCounts: Checkpoint.RecorderCounts = { handlesClosed: 0, writeFailures: 0, lostBytes: 0 }

// the media counts an earlier version wrote next to the summary in session.json
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

/** Samples each WAV file of the folder holds now, by file name. */
const wavSamples = (audioDir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const out = new Map<string, number>()
    const names = yield* fs.readDirectory(audioDir).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
    for (const name of names) {
      if (!name.endsWith(".wav")) continue
      const info = yield* Effect.either(fs.stat(path.join(audioDir, name)))
      if (Either.isRight(info)) out.set(name, Math.max(0, Math.floor((Number(info.right.size) - HEADER_BYTES) / 2)))
    }
    return out
  })

/** Bytes each H.264 stream of the folder holds now, by its path in the folder (see `Layout.streamPath`). */
const streamSizes = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const out = new Map<string, number>()
    const none = (): ReadonlyArray<string> => []
    for (const folder of yield* fs.readDirectory(path.join(dir, VIDEO)).pipe(Effect.orElseSucceed(none))) {
      const names = yield* fs.readDirectory(path.join(dir, VIDEO, folder)).pipe(Effect.orElseSucceed(none))
      for (const name of names) {
        if (!name.endsWith(".h264")) continue
        const file = streamPath({ folder: [folder], file: name })
        const info = yield* Effect.either(fs.stat(path.join(dir, file)))
        if (Either.isRight(info) && info.right.type === "File") out.set(file, Number(info.right.size))
      }
    }
    return out
  })

/** An earlier version's folder: state from its derived files, the logs taken as they are. */
const fromDerivedFiles = (dir: string, session: string, onDisk: ReadonlyMap<string, number>) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const saved = yield* readJson(path.join(dir, "session.json"))
    const media = Either.getOrElse(decodeSavedMedia(saved), (): typeof SavedMedia.Type => ({ audio: {} }))
    const tracks: Record<string, AudioTimeline.Track> = {}
    for (const [key, counts] of Object.entries(media.audio)) {
      tracks[key] = AudioTimeline.resumed(onDisk.get(wavName(key as AudioTimeline.TrackKey)) ?? 0, counts)
    }
    const snapshot: SessionState.Snapshot = {
      ...SessionState.empty(session),
      summary: Either.getOrElse(SessionSummary.fromJson(saved), () => SessionSummary.empty(session)),
      transcript: Either.getOrElse(
        Transcript.fromJson(yield* readJson(path.join(dir, "transcript.json"))),
        () => Transcript.empty
      ),
      participants: Either.getOrElse(
        Participants.fromJson(
          (yield* readJson(path.join(dir, "participants.json"))) ?? {},
          (yield* readJson(path.join(dir, "chat.json"))) ?? []
        ),
        () => Participants.empty
      ),
      timeline: { tracks, writes: [] },
      video: { frames: 0, bytes: 0, badFrames: 0, ...media.video }
    }
    return snapshot
  })

/**
 * Restores the state of the session recorded in `dir` (a folder that may be new).
 *
 * @internal
 */
export const restore = (
  dir: string,
  session: SessionKey.SessionKey,
  audio: AudioTimeline.Options | undefined
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const tapePath = path.join(dir, TAPE)
    const controlPath = path.join(dir, ControlLog.FILE)
    const tapeSize = yield* repairTail(tapePath)
    const controlSize = yield* repairTail(controlPath)
    const onDisk = yield* wavSamples(path.join(dir, AUDIO))

    const saved = Checkpoint.read(yield* readJson(path.join(dir, Checkpoint.FILE)))
    // what the checkpoint's state moved out of memory (finals, closed intervals, chat messages), each file cut back to
    // what the checkpoint counted: a checkpoint without all of it is of no use
    const settledFiles: Array<string> = []
    const restoreSettled = <A>(log: SettledLog.SettledLog<A>, place: SettledPlace) => {
      const file = path.join(dir, log.FILE)
      settledFiles.push(file)
      return Either.isRight(saved)
        ? log.restore(file, saved.right.offsets[place].bytes)
        : Effect.succeed(Either.left("no checkpoint"))
    }
    const settled = yield* restoreSettled(SettledTranscript, "settled")
    const intervals = yield* restoreSettled(SettledIntervals, "intervals")
    const chat = yield* restoreSettled(SettledChat, "chat")
    const usable = Either.isRight(saved) && Either.isRight(settled) && Either.isRight(intervals) &&
      Either.isRight(chat) &&
      saved.right.offsets.tape.bytes <= Math.max(0, tapeSize) &&
      saved.right.offsets.control.bytes <= Math.max(0, controlSize)
    // everything is replayed into memory again (and moved out again by the recorder)
    for (const file of settledFiles) if (!usable && (yield* fs.exists(file))) yield* fs.truncate(file, 0)
    const legacy = !usable && controlSize === -1 && tapeSize > 0 &&
      (yield* fs.exists(path.join(dir, "session.json")).pipe(Effect.orElseSucceed(() => false)))

    let start: Checkpoint.Restored
    let from: Restored["from"]
    if (usable) {
      const snapshot = saved.right.snapshot
      start = {
        ...saved.right,
        snapshot: {
          ...snapshot,
          transcript: Transcript.holdSettled(snapshot.transcript, Either.getOrElse(settled, () => [])),
          participants: Participants.holdSettledChat(snapshot.participants, Either.getOrElse(chat, () => []))
        }
      }
      from = "checkpoint"
    } else if (legacy) {
      let lines = 0
      yield* forEachLine(tapePath, 0, () => lines++)
      start = {
        snapshot: yield* fromDerivedFiles(dir, session, onDisk),
        offsets: { ...noOffsets, tape: { bytes: tapeSize, lines } },
        counts: zeroCounts
      }
      from = "derived files"
    } else {
      start = {
        snapshot: SessionState.empty(session),
        offsets: noOffsets,
        counts: zeroCounts
      }
      from = tapeSize > 0 || controlSize > 0 ? "logs" : "new folder"
    }

    // the control events after the start, in order, each with the number of tape lines before it
    const controls: Array<{ readonly after: number; readonly event: SessionEvent.ControlEvent }> = []
    // bytes of each H.264 stream given up since the start: the stream lacks them
    const givenUp = new Map<string, number>()
    let controlLines = start.offsets.control.lines
    yield* forEachLine(controlPath, start.offsets.control.bytes, (line) => {
      controlLines++
      const parsed = ControlLog.parse(line)
      if (Either.isLeft(parsed)) return
      if ("event" in parsed.right) controls.push(parsed.right)
      else {
        const { bytes, file } = parsed.right.givenUp
        givenUp.set(file, (givenUp.get(file) ?? 0) + bytes)
      }
    })

    const missingAudio: Array<AudioTimeline.Write> = []
    // bytes of each H.264 stream the replayed messages hold
    const replayedStreams = new Map<string, number>()
    const replay: SessionState.Output = {
      message: () => {},
      control: () => {},
      frame: (frame) => {
        if (frame._tag !== "H264") return
        const file = streamPath(frame)
        replayedStreams.set(file, (replayedStreams.get(file) ?? 0) + frame.bytes.byteLength)
      },
      problem: () => {},
      samples: (write) => {
        // positioned writes are idempotent, but there is no need to write again what the file already holds
        const held = onDisk.get(wavName(write.track)) ?? 0
        const end = write.offset + write.samples.length
        if (end <= held) return
        const from = Math.max(write.offset, held)
        missingAudio.push({ track: write.track, offset: from, samples: write.samples.subarray(from - write.offset) })
      }
    }
    const state = new SessionState.SessionState(start.snapshot, audio)
    const now = yield* Clock.currentTimeMillis
    let next = 0
    let tapeLines = start.offsets.tape.lines
    let replayedLines = 0
    let tapeAt: number | undefined
    // an event the reducers cannot take was counted as an error when it first came; the replay goes on past it
    const apply = (item: SessionEvent.SessionEvent) => {
      try {
        state.apply(item, now, replay)
      } catch {
        // nothing more to record: the first run recorded it
      }
    }
    const controlsUpTo = (lines: number) => {
      while (next < controls.length && controls[next]!.after <= lines) apply(controls[next++]!.event)
    }
    yield* forEachLine(tapePath, start.offsets.tape.bytes, (line) => {
      controlsUpTo(tapeLines)
      tapeLines++
      replayedLines++
      const entry = Tape.parseLine(line, tapeLines)
      if (Either.isLeft(entry)) return
      tapeAt = entry.right.at
      const event = Decoder.decodeJsonEither(entry.right.message)
      if (Either.isLeft(event)) return
      apply(SessionEvent.message(session, event.right, now, { position: entry.right.position }))
    })
    controlsUpTo(Number.POSITIVE_INFINITY)

    // each H.264 stream is cut back to what the state and the replayed messages hold: the bytes it held at the
    // checkpoint (none without one: everything was replayed), then the frames replayed, less what the recorder gave
    // up since (those bytes never reached it). A checkpoint of a version that did not count them, or a folder
    // continued from its derived files, leaves the streams as they are
    const held = from === "checkpoint" ? start.offsets.streams : from === "logs" ? {} : undefined
    const streams = NameRecord.empty<number>()
    let cutStreamBytes = 0
    for (const [file, size] of yield* streamSizes(dir)) {
      const expected = held === undefined
        ? size
        : Math.max(0, (NameRecord.get(held, file) ?? 0) + (replayedStreams.get(file) ?? 0) - (givenUp.get(file) ?? 0))
      if (size > expected) {
        yield* fs.truncate(path.join(dir, file), expected)
        cutStreamBytes += size - expected
      }
      streams[file] = Math.min(size, expected)
    }

    return {
      snapshot: state.snapshot,
      offsets: {
        tape: { bytes: Math.max(0, tapeSize), lines: tapeLines },
        control: { bytes: Math.max(0, controlSize), lines: controlLines },
        settled: start.offsets.settled,
        intervals: start.offsets.intervals,
        chat: start.offsets.chat,
        streams
      },
      counts: start.counts,
      tapeAt: tapeAt ?? (tapeSize > 0 ? yield* TapeRecorder.lastAt(tapePath) : 0),
      missingAudio,
      from,
      replayedLines,
      cutStreamBytes,
      fresh: false
    } satisfies Restored
  })
