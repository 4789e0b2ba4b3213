/**
 * Schemas for every Recall.ai real-time websocket event, and the TypeScript types derived from them.
 *
 * Every message Recall sends is an envelope `{ event, data: { data, realtime_endpoint, recording, bot, <artifact> } }`.
 * The schemas here accept every variant the public documentation and Recall's samples disagree on (a missing or
 * null `bot`, `audio_mixed` or `audio_mixed_raw`, nullable participant fields, null metadata, extra fields) and
 * ignore fields they do not know. Media buffers are only checked to be strings: turning them into bytes is the
 * job of `Audio` and `Video`, once, when asked.
 *
 * An event name the schemas do not know decodes to an {@link UnknownEvent} (`event: "unknown"`, with the wire
 * name in `name`), so `switch (event.event)` narrows every case, the unknown one included.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { BYTES_PER_SECOND } from "./Audio.js"
import { decodedLength } from "./internal/base64.js"

// -----------------------------------------------------------------------------
// Shared shapes
// -----------------------------------------------------------------------------

/**
 * Any JSON value, kept as it is. Arbitraries produce JSON values only, so property tests can round-trip them.
 *
 * @since 0.1.0
 * @category shared
 */
export const Opaque = Schema.Unknown.annotations({
  identifier: "Opaque",
  // a "__proto__" key is legal JSON but does not survive a copy through object spread, so it would make
  // round-trip properties compare different objects
  arbitrary: () => (fc) => fc.jsonValue().filter((value) => !JSON.stringify(value).includes("\"__proto__\""))
})

/**
 * A JSON number: finite, as every number on the wire is.
 *
 * @since 0.1.0
 * @category shared
 */
export const WireNumber = Schema.Number.pipe(
  Schema.filter((n) => Number.isFinite(n), { message: () => "Expected a finite number" })
).annotations({
  identifier: "WireNumber",
  arbitrary: () => (fc) => fc.double({ noNaN: true, noDefaultInfinity: true })
})

const isJsonObject = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Metadata attached to a bot, recording or endpoint: an object with values of any JSON type, or null.
 *
 * Decoding keeps the very object it was given. A `Schema.Record` would copy it key by key, and a copy that assigns a
 * wire key `"__proto__"` (JSON.parse makes it an ordinary own key) sets the copy's prototype instead: the key would
 * vanish and its value would show through as inherited properties.
 *
 * @since 0.1.0
 * @category shared
 */
export const Metadata = Schema.NullOr(
  Schema.declare(isJsonObject, {
    identifier: "MetadataObject",
    description: "an object with values of any JSON type",
    arbitrary: () => (fc) =>
      fc.dictionary(fc.string(), fc.jsonValue()).filter((value) => !JSON.stringify(value).includes("\"__proto__\""))
  })
).annotations({ identifier: "Metadata" })

/**
 * A reference to a Recall resource: `{ id, metadata }`.
 *
 * @since 0.1.0
 * @category shared
 */
export const Ref = Schema.Struct({
  id: Schema.String,
  metadata: Schema.optional(Metadata)
}).annotations({ identifier: "Ref" })

/**
 * @since 0.1.0
 * @category shared
 */
export interface Ref extends Schema.Schema.Type<typeof Ref> {}

/**
 * A meeting participant. `id` is unique within one meeting only. `platform` is a device constant such as
 * `"desktop"` or `"dial-in"`, not the meeting platform. Recall's own samples make `id`, `is_host` and
 * `extra_data` nullable, so they are here too.
 *
 * @since 0.1.0
 * @category shared
 */
export const Participant = Schema.Struct({
  id: Schema.NullOr(WireNumber),
  name: Schema.NullOr(Schema.String),
  is_host: Schema.optional(Schema.NullOr(Schema.Boolean)),
  platform: Schema.optional(Schema.NullOr(Schema.String)),
  extra_data: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Opaque }))),
  email: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "Participant" })

/**
 * @since 0.1.0
 * @category shared
 */
export interface Participant extends Schema.Schema.Type<typeof Participant> {}

/**
 * A point in the meeting: `relative` is seconds since the recording started (may be negative in rare cases),
 * `absolute` an ISO-8601 UTC string. For media buffers it is the time of the first sample or frame.
 *
 * @since 0.1.0
 * @category shared
 */
export const Timestamp = Schema.Struct({
  relative: WireNumber,
  absolute: Schema.String
}).annotations({ identifier: "Timestamp" })

/**
 * @since 0.1.0
 * @category shared
 */
export interface Timestamp extends Schema.Schema.Type<typeof Timestamp> {}

/**
 * The timestamp of a transcript word: `absolute` is often left out.
 *
 * @since 0.1.0
 * @category shared
 */
export const WordTimestamp = Schema.Struct({
  relative: WireNumber,
  absolute: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "WordTimestamp" })

/**
 * @since 0.1.0
 * @category shared
 */
export interface WordTimestamp extends Schema.Schema.Type<typeof WordTimestamp> {}

/**
 * One transcribed word. Recall's sample allows null start and end timestamps.
 *
 * @since 0.1.0
 * @category shared
 */
export const Word = Schema.Struct({
  text: Schema.String,
  start_timestamp: Schema.NullOr(WordTimestamp),
  end_timestamp: Schema.optional(Schema.NullOr(WordTimestamp))
}).annotations({ identifier: "Word" })

/**
 * @since 0.1.0
 * @category shared
 */
export interface Word extends Schema.Schema.Type<typeof Word> {}

// -----------------------------------------------------------------------------
// Envelope
// -----------------------------------------------------------------------------

const envelope = <
  const Name extends string,
  Payload extends Schema.Schema.AnyNoContext,
  Artifacts extends Schema.Struct.Fields
>(name: Name, payload: Payload, artifacts: Artifacts) =>
  Schema.Struct({
    event: Schema.Literal(name),
    data: Schema.Struct({
      data: payload,
      realtime_endpoint: Schema.optional(Ref),
      recording: Ref,
      bot: Schema.optional(Schema.NullOr(Ref)),
      ...artifacts
    })
  }).annotations({ identifier: name })

const artifact = <const Key extends string>(key: Key) =>
  ({ [key]: Schema.optional(Ref) }) as { [K in Key]: Schema.optional<typeof Ref> }

// -----------------------------------------------------------------------------
// participant_events.*
// -----------------------------------------------------------------------------

/**
 * The body of a `participant_events.chat_message`. `to` is `"everyone"` or `"only_bot"`, kept as a string.
 *
 * @since 0.1.0
 * @category participant events
 */
export const ChatMessage = Schema.Struct({
  text: Schema.String,
  to: Schema.String
}).annotations({ identifier: "ChatMessage" })

/**
 * @since 0.1.0
 * @category participant events
 */
export interface ChatMessage extends Schema.Schema.Type<typeof ChatMessage> {}

const participantEvent = <const Name extends string>(name: Name) =>
  envelope(
    name,
    Schema.Struct({ participant: Participant, timestamp: Timestamp, data: Opaque }),
    artifact("participant_events")
  )

/** @since 0.1.0 @category participant events */
export const ParticipantJoin = participantEvent("participant_events.join")
/** @since 0.1.0 @category participant events */
export interface ParticipantJoin extends Schema.Schema.Type<typeof ParticipantJoin> {}
/** @since 0.1.0 @category participant events */
export const ParticipantLeave = participantEvent("participant_events.leave")
/** @since 0.1.0 @category participant events */
export interface ParticipantLeave extends Schema.Schema.Type<typeof ParticipantLeave> {}
/** @since 0.1.0 @category participant events */
export const ParticipantUpdate = participantEvent("participant_events.update")
/** @since 0.1.0 @category participant events */
export interface ParticipantUpdate extends Schema.Schema.Type<typeof ParticipantUpdate> {}
/** @since 0.1.0 @category participant events */
export const SpeechOn = participantEvent("participant_events.speech_on")
/** @since 0.1.0 @category participant events */
export interface SpeechOn extends Schema.Schema.Type<typeof SpeechOn> {}
/** @since 0.1.0 @category participant events */
export const SpeechOff = participantEvent("participant_events.speech_off")
/** @since 0.1.0 @category participant events */
export interface SpeechOff extends Schema.Schema.Type<typeof SpeechOff> {}
/** @since 0.1.0 @category participant events */
export const WebcamOn = participantEvent("participant_events.webcam_on")
/** @since 0.1.0 @category participant events */
export interface WebcamOn extends Schema.Schema.Type<typeof WebcamOn> {}
/** @since 0.1.0 @category participant events */
export const WebcamOff = participantEvent("participant_events.webcam_off")
/** @since 0.1.0 @category participant events */
export interface WebcamOff extends Schema.Schema.Type<typeof WebcamOff> {}
/** @since 0.1.0 @category participant events */
export const ScreenshareOn = participantEvent("participant_events.screenshare_on")
/** @since 0.1.0 @category participant events */
export interface ScreenshareOn extends Schema.Schema.Type<typeof ScreenshareOn> {}
/** @since 0.1.0 @category participant events */
export const ScreenshareOff = participantEvent("participant_events.screenshare_off")
/** @since 0.1.0 @category participant events */
export interface ScreenshareOff extends Schema.Schema.Type<typeof ScreenshareOff> {}

/**
 * A chat message sent in the meeting.
 *
 * @since 0.1.0
 * @category participant events
 */
export const ChatMessageEvent = envelope(
  "participant_events.chat_message",
  Schema.Struct({ participant: Participant, timestamp: Timestamp, data: ChatMessage }),
  artifact("participant_events")
)

/** @since 0.1.0 @category participant events */
export interface ChatMessageEvent extends Schema.Schema.Type<typeof ChatMessageEvent> {}

// -----------------------------------------------------------------------------
// transcript.*
// -----------------------------------------------------------------------------

const Utterance = Schema.Struct({
  words: Schema.Array(Word),
  participant: Participant,
  language_code: Schema.optional(Schema.NullOr(Schema.String))
})

/**
 * A final utterance. It supersedes the partials that came before it.
 *
 * @since 0.1.0
 * @category transcript
 */
export const TranscriptData = envelope("transcript.data", Utterance, artifact("transcript"))

/** @since 0.1.0 @category transcript */
export interface TranscriptData extends Schema.Schema.Type<typeof TranscriptData> {}

/**
 * An interim utterance, superseded by the next partial or final of the same speaker.
 *
 * @since 0.1.0
 * @category transcript
 */
export const TranscriptPartialData = envelope("transcript.partial_data", Utterance, artifact("transcript"))

/** @since 0.1.0 @category transcript */
export interface TranscriptPartialData extends Schema.Schema.Type<typeof TranscriptPartialData> {}

/**
 * The speech provider's raw message, kept opaque in `data.data.data.payload`.
 *
 * @since 0.1.0
 * @category transcript
 */
export const TranscriptProviderData = envelope(
  "transcript.provider_data",
  Schema.Struct({ data: Schema.Struct({ payload: Opaque }) }),
  artifact("transcript")
)

/** @since 0.1.0 @category transcript */
export interface TranscriptProviderData extends Schema.Schema.Type<typeof TranscriptProviderData> {}

// -----------------------------------------------------------------------------
// audio and video
// -----------------------------------------------------------------------------

/**
 * A base64 media buffer. Only its type is checked while decoding; `Audio` and `Video` turn it into bytes.
 *
 * @since 0.1.0
 * @category media
 */
export const MediaBuffer = Schema.String.annotations({
  identifier: "MediaBuffer",
  arbitrary: () => (fc) => fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString("base64"))
})

/**
 * Mixed audio of the whole meeting: S16LE PCM, 16 kHz, mono. The artifact key is `audio_mixed` in most documents
 * and `audio_mixed_raw` in some: both are accepted, neither is required.
 *
 * @since 0.1.0
 * @category media
 */
export const AudioMixedRaw = envelope(
  "audio_mixed_raw.data",
  Schema.Struct({ buffer: MediaBuffer, timestamp: Timestamp }),
  { ...artifact("audio_mixed"), ...artifact("audio_mixed_raw") }
)

/** @since 0.1.0 @category media */
export interface AudioMixedRaw extends Schema.Schema.Type<typeof AudioMixedRaw> {}

/**
 * One participant's audio: S16LE PCM, 16 kHz, mono. An unmuted but silent participant may send an empty buffer.
 *
 * @since 0.1.0
 * @category media
 */
export const AudioSeparateRaw = envelope(
  "audio_separate_raw.data",
  Schema.Struct({ buffer: MediaBuffer, timestamp: Timestamp, participant: Participant }),
  artifact("audio_separate")
)

/** @since 0.1.0 @category media */
export interface AudioSeparateRaw extends Schema.Schema.Type<typeof AudioSeparateRaw> {}

/**
 * The kind of a video stream.
 *
 * @since 0.1.0
 * @category media
 */
export const VideoType = Schema.Literal("webcam", "screenshare")

/** @since 0.1.0 @category media */
export type VideoType = typeof VideoType.Type

const VideoFrame = Schema.Struct({
  buffer: MediaBuffer,
  timestamp: Timestamp,
  type: VideoType,
  participant: Participant
})

/**
 * One PNG frame of a participant's webcam or screenshare, about two per second.
 *
 * @since 0.1.0
 * @category media
 */
export const VideoSeparatePng = envelope("video_separate_png.data", VideoFrame, artifact("video_separate"))

/** @since 0.1.0 @category media */
export interface VideoSeparatePng extends Schema.Schema.Type<typeof VideoSeparatePng> {}

/**
 * One H.264 payload of a participant's webcam or screenshare (framing undocumented; kept opaque).
 *
 * @since 0.1.0
 * @category media
 */
export const VideoSeparateH264 = envelope("video_separate_h264.data", VideoFrame, artifact("video_separate"))

/** @since 0.1.0 @category media */
export interface VideoSeparateH264 extends Schema.Schema.Type<typeof VideoSeparateH264> {}

// -----------------------------------------------------------------------------
// unions
// -----------------------------------------------------------------------------

/**
 * The schema of each known event, by wire name.
 *
 * @since 0.1.0
 * @category known events
 */
export const schemas = {
  "participant_events.join": ParticipantJoin,
  "participant_events.leave": ParticipantLeave,
  "participant_events.update": ParticipantUpdate,
  "participant_events.speech_on": SpeechOn,
  "participant_events.speech_off": SpeechOff,
  "participant_events.webcam_on": WebcamOn,
  "participant_events.webcam_off": WebcamOff,
  "participant_events.screenshare_on": ScreenshareOn,
  "participant_events.screenshare_off": ScreenshareOff,
  "participant_events.chat_message": ChatMessageEvent,
  "transcript.data": TranscriptData,
  "transcript.partial_data": TranscriptPartialData,
  "transcript.provider_data": TranscriptProviderData,
  "audio_mixed_raw.data": AudioMixedRaw,
  "audio_separate_raw.data": AudioSeparateRaw,
  "video_separate_png.data": VideoSeparatePng,
  "video_separate_h264.data": VideoSeparateH264
} as const

/**
 * The wire name of a known event.
 *
 * @since 0.1.0
 * @category known events
 */
export type EventName = keyof typeof schemas

/**
 * Every known event name.
 *
 * @since 0.1.0
 * @category known events
 */
export const eventNames: ReadonlyArray<EventName> = Object.keys(schemas) as Array<EventName>

const knownNames: ReadonlySet<string> = new Set(eventNames)

/**
 * Whether a wire name is one the schemas know.
 *
 * @since 0.1.0
 * @category known events
 */
export const isEventName = (name: string): name is EventName => knownNames.has(name)

/**
 * Any known event.
 *
 * @since 0.1.0
 * @category known events
 */
export const KnownEvent = Schema.Union(...Object.values(schemas))

/**
 * @since 0.1.0
 * @category known events
 */
export type KnownEvent = typeof KnownEvent.Type

/**
 * An event whose name the schemas do not know: `name` is the wire name, `data` the raw envelope body. It is
 * surfaced (and counted) rather than rejected, so new Recall events never break a pipeline.
 *
 * @since 0.1.0
 * @category unknown events
 */
export interface UnknownEvent {
  readonly event: "unknown"
  readonly name: string
  readonly data: unknown
}

const UnknownEventWire = Schema.Struct({
  event: Schema.String.pipe(
    Schema.filter((name) => !knownNames.has(name), { message: () => "Expected an event name no schema knows" })
  ),
  data: Opaque
})

/**
 * The wire form `{ event: <any other name>, data }` decoded to an {@link UnknownEvent}.
 *
 * @since 0.1.0
 * @category unknown events
 */
export const UnknownEvent: Schema.Schema<UnknownEvent, typeof UnknownEventWire.Encoded> = Schema.transform(
  UnknownEventWire,
  Schema.Struct({ event: Schema.Literal("unknown"), name: Schema.String, data: Opaque }),
  {
    strict: true,
    decode: (wire) => ({ event: "unknown" as const, name: wire.event, data: wire.data }),
    encode: (unknown) => ({ event: unknown.name, data: unknown.data })
  }
).annotations({ identifier: "UnknownEvent" })

/**
 * Every message Recall sends, known or not.
 *
 * @since 0.1.0
 * @category models
 */
export const RecallEvent = Schema.Union(KnownEvent, UnknownEvent)

/**
 * @since 0.1.0
 * @category models
 */
export type RecallEvent = KnownEvent | UnknownEvent

/**
 * The known event with the given wire name.
 *
 * @since 0.1.0
 * @category models
 */
export type EventOf<Name extends RecallEvent["event"]> = Extract<RecallEvent, { readonly event: Name }>

/**
 * The name an event was sent with (the wire name of an unknown event too).
 *
 * @since 0.1.0
 * @category accessors
 */
export const nameOf = (event: RecallEvent): string => event.event === "unknown" ? event.name : event.event

// -----------------------------------------------------------------------------
// families
// -----------------------------------------------------------------------------

/** @since 0.1.0 @category families */
export type ParticipantEvent = EventOf<Extract<EventName, `participant_events.${string}`>>
/** @since 0.1.0 @category families */
export type TranscriptEvent = TranscriptData | TranscriptPartialData
/** @since 0.1.0 @category families */
export type AudioEvent = AudioMixedRaw | AudioSeparateRaw
/** @since 0.1.0 @category families */
export type VideoEvent = VideoSeparatePng | VideoSeparateH264
/** @since 0.1.0 @category families */
export type MediaEvent = AudioEvent | VideoEvent

/** @since 0.1.0 @category families */
export const isParticipantEvent = (event: RecallEvent): event is ParticipantEvent =>
  event.event.startsWith("participant_events.")

/** @since 0.1.0 @category families */
export const isTranscriptEvent = (event: RecallEvent): event is TranscriptEvent =>
  event.event === "transcript.data" || event.event === "transcript.partial_data"

/** @since 0.1.0 @category families */
export const isAudioEvent = (event: RecallEvent): event is AudioEvent =>
  event.event === "audio_mixed_raw.data" || event.event === "audio_separate_raw.data"

/** @since 0.1.0 @category families */
export const isVideoEvent = (event: RecallEvent): event is VideoEvent =>
  event.event === "video_separate_png.data" || event.event === "video_separate_h264.data"

/**
 * Audio and video may be shed under overload (with a recorded `Dropped`); everything else never is.
 *
 * @since 0.1.0
 * @category families
 */
export const isMediaEvent = (event: RecallEvent): event is MediaEvent => isAudioEvent(event) || isVideoEvent(event)

// -----------------------------------------------------------------------------
// accessors
// -----------------------------------------------------------------------------

/**
 * The participant an event is about, when it names one.
 *
 * @since 0.1.0
 * @category accessors
 */
export const participantOf = (event: RecallEvent): Participant | undefined => {
  if (
    event.event === "unknown" || event.event === "audio_mixed_raw.data" || event.event === "transcript.provider_data"
  ) {
    return undefined
  }
  return event.data.data.participant
}

/**
 * The latest meeting time (seconds) an event shows Recall was producing data at: `timestamp.relative` for
 * participant events and video, the end of the chunk for audio (its start plus its duration, from the base64
 * length), and for transcripts the end of the last word (a final is sent once its speech is over, so its first word
 * can be far older than the message). Used to bound connection gaps.
 *
 * @since 0.1.0
 * @category accessors
 */
export const latestTimeOf = (event: RecallEvent): number | undefined => {
  switch (event.event) {
    case "unknown":
    case "transcript.provider_data":
      return undefined
    case "transcript.data":
    case "transcript.partial_data": {
      let latest: number | undefined
      for (const word of event.data.data.words) {
        const t = word.end_timestamp?.relative ?? word.start_timestamp?.relative
        if (t !== undefined && (latest === undefined || t > latest)) latest = t
      }
      return latest
    }
    case "audio_mixed_raw.data":
    case "audio_separate_raw.data":
      return event.data.data.timestamp.relative + decodedLength(event.data.data.buffer) / BYTES_PER_SECOND
    default:
      return event.data.data.timestamp.relative
  }
}

/**
 * The meeting time of an event in seconds (`timestamp.relative`; for transcripts the first word's start), when
 * it carries one.
 *
 * @since 0.1.0
 * @category accessors
 */
export const relativeTimeOf = (event: RecallEvent): number | undefined => {
  switch (event.event) {
    case "unknown":
    case "transcript.provider_data":
      return undefined
    case "transcript.data":
    case "transcript.partial_data":
      return event.data.data.words[0]?.start_timestamp?.relative
    default:
      return event.data.data.timestamp.relative
  }
}
