import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type * as AudioTimeline from "../AudioTimeline.js"
import * as Participants from "../Participants.js"
import * as SessionSummary from "../SessionSummary.js"
import * as Transcript from "../Transcript.js"
import * as NameRecord from "./nameRecord.js"
import type { Snapshot } from "./sessionState.js"

/**
 * `checkpoint.json`: where a restarted recorder starts from. It holds everything the recorder derived (the
 * reducers' states, the audio timeline, the counts) together with how far into the tape and the control log that
 * state goes, in bytes and lines, all in one file replaced in one step. A restart reads it and replays the rest of
 * both logs through the same reducers, so the result equals a recording that never stopped. Without it (a folder
 * whose checkpoint is missing or unreadable), the restart replays both logs from their start.
 *
 * The derived files (`transcript.json`, `participants.json`, `session.json`, ...) are views rendered from this
 * state: they are never read back, so a corrupt one is simply written again. One file, rather than an offset in
 * each view, because seven files cannot be replaced together in one step, and `participants.json` and `chat.json`
 * have no room for an offset of their own.
 *
 * @internal
 */

/**
 * How far into the tape (messages) and the control log a state goes, and how much of `transcript.settled.jsonl`
 * (the finals moved out of memory), of `participants.settled.jsonl` (the intervals moved out) and of
 * `chat.settled.jsonl` (the chat messages moved out) belongs to it.
 * @internal
 */
export interface Offsets {
  readonly tape: { readonly bytes: number; readonly lines: number }
  readonly control: { readonly bytes: number; readonly lines: number }
  readonly settled: { readonly bytes: number; readonly lines: number }
  readonly intervals: { readonly bytes: number; readonly lines: number }
  readonly chat: { readonly bytes: number; readonly lines: number }
  /**
   * Bytes of each H.264 stream (by its path in the folder, see `Layout.streamPath`) that belong to the state: a
   * restart cuts a stream back to them plus the frames it replays (what is beyond them is frames the tape does not
   * hold, written before a kill kept the tape from following). Absent in a checkpoint of a version that did not say.
   */
  readonly streams?: Readonly<Record<string, number>> | undefined
}

/** Counts of the recorder's own that carry on across restarts. @internal */
export interface RecorderCounts {
  readonly handlesClosed: number
  readonly writeFailures: number
  readonly lostBytes: number
}

/** @internal */
export const FILE = "checkpoint.json"

const samplesFromBase64 = Schema.transform(
  Schema.String,
  Schema.declare((u): u is Int16Array => u instanceof Int16Array),
  {
    strict: true,
    decode: (text) => {
      const bytes = Buffer.from(text, "base64")
      const samples = new Int16Array(bytes.byteLength >> 1)
      new Uint8Array(samples.buffer).set(bytes.subarray(0, samples.byteLength))
      return samples
    },
    encode: (samples) => Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).toString("base64")
  }
)

const Track = Schema.Struct({
  frontier: Schema.Number,
  covered: Schema.Array(Schema.Tuple(Schema.Number, Schema.Number)),
  chunks: Schema.Number,
  late: Schema.Number,
  repeatedSamples: Schema.Number,
  droppedSamples: Schema.Number,
  invalid: Schema.Number,
  ahead: Schema.optional(Schema.Struct({ offset: Schema.Number, samples: samplesFromBase64 }))
})

const Place = Schema.Struct({ bytes: Schema.Number, lines: Schema.Number })

const Checkpoint = Schema.Struct({
  version: Schema.Literal(1),
  tape: Place,
  control: Place,
  // absent in a checkpoint of a version that kept every final in memory (and in this file)
  settled: Schema.optionalWith(Place, { default: () => ({ bytes: 0, lines: 0 }) }),
  // absent in a checkpoint of a version that kept every interval in memory (and in this file)
  intervals: Schema.optionalWith(Place, { default: () => ({ bytes: 0, lines: 0 }) }),
  // absent in a checkpoint of a version that kept the whole chat in memory (and in this file)
  chat: Schema.optionalWith(Place, { default: () => ({ bytes: 0, lines: 0 }) }),
  streams: Schema.optional(NameRecord.schema(Schema.Number)),
  position: Schema.NullOr(Schema.String),
  skipped: Schema.Number,
  // decoded by the reducers' own readers below
  summary: Schema.Unknown,
  participants: Schema.Struct({ roster: Schema.Unknown, chat: Schema.Unknown, at: Schema.Number }),
  transcript: Schema.Struct({
    finals: Schema.Array(Transcript.Utterance),
    partials: Schema.Array(Transcript.Utterance),
    names: NameRecord.schema(Schema.String)
  }),
  tracks: NameRecord.schema(Track),
  video: Schema.Struct({ frames: Schema.Number, bytes: Schema.Number, badFrames: Schema.Number }),
  recorder: Schema.Struct({ handlesClosed: Schema.Number, writeFailures: Schema.Number, lostBytes: Schema.Number })
})

// what is written: the transcript's encoded form is its value as it is (plain JSON, nothing to transform), so it is
// passed through instead of being encoded (and copied) word by word, which made a checkpoint of a long meeting cost
// milliseconds; decoding still checks every field
const encode = Schema.encodeSync(Schema.Struct({ ...Checkpoint.fields, transcript: Schema.Unknown }))
const decode = Schema.decodeUnknownEither(Checkpoint)

/** The content of `checkpoint.json` for a state and the offsets it covers. @internal */
export const render = (snapshot: Snapshot, offsets: Offsets, counts: RecorderCounts): string =>
  JSON.stringify(encode({
    version: 1,
    tape: offsets.tape,
    control: offsets.control,
    settled: offsets.settled,
    intervals: offsets.intervals,
    chat: offsets.chat,
    ...(offsets.streams === undefined ? {} : { streams: offsets.streams }),
    position: snapshot.position ?? null,
    skipped: snapshot.skipped,
    summary: snapshot.summary,
    participants: {
      roster: Participants.rosterToJson(snapshot.participants),
      chat: Participants.chatToJson(snapshot.participants),
      at: snapshot.participants.at
    },
    transcript: {
      finals: snapshot.transcript.finals,
      partials: snapshot.transcript.partials,
      names: snapshot.transcript.names
    },
    tracks: snapshot.timeline.tracks,
    video: snapshot.video,
    recorder: counts
  })) + "\n"

/** A checkpoint read back. @internal */
export interface Restored {
  readonly snapshot: Snapshot
  readonly offsets: Offsets
  readonly counts: RecorderCounts
}

/** Reads a parsed `checkpoint.json` back; a Left when any part of it does not decode. @internal */
export const read = (json: unknown): Either.Either<Restored, unknown> =>
  Either.gen(function*() {
    const saved = yield* decode(json)
    const summary = yield* SessionSummary.fromJson(saved.summary)
    const participants = yield* Participants.fromJson(saved.participants.roster, saved.participants.chat)
    const transcript: Transcript.Transcript = {
      ...Transcript.merge(Transcript.empty, saved.transcript.finals),
      partials: saved.transcript.partials,
      names: saved.transcript.names
    }
    const tracks = saved.tracks as Readonly<Record<string, AudioTimeline.Track>>
    return {
      snapshot: {
        summary,
        transcript,
        participants: { ...participants, at: saved.participants.at },
        timeline: { tracks, writes: [] },
        video: saved.video,
        position: saved.position ?? undefined,
        skipped: saved.skipped
      },
      offsets: {
        tape: saved.tape,
        control: saved.control,
        settled: saved.settled,
        intervals: saved.intervals,
        chat: saved.chat,
        streams: saved.streams
      },
      counts: saved.recorder
    }
  })
