/**
 * Builders of valid Recall messages for tests: one function per event family, with defaults for everything, so a
 * test states only what it is about. Each returns the wire value (what Recall sends, before `JSON.stringify`), which
 * decodes with `Decoder` to the event of the same name.
 *
 * @example
 * ```ts
 * import { Decoder, Fixtures } from "@callstream/core"
 *
 * const ada = Fixtures.participant({ id: 100, name: "Ada" })
 * const frame = JSON.stringify(Fixtures.speech("participant_events.speech_on", { participant: ada, at: 2 }))
 * const event = Decoder.decodeEither(frame)
 * ```
 *
 * @since 0.1.0
 */
import * as Audio from "./Audio.js"
import type * as RecallEvent from "./RecallEvent.js"

/**
 * Where a message comes from: its bot (null or `undefined` to leave it out) and recording.
 *
 * @since 0.1.0
 * @category models
 */
export interface Origin {
  readonly botId?: string | null | undefined
  readonly recordingId?: string | undefined
  /** When the recording started (ISO-8601); `absolute` timestamps count from it. */
  readonly start?: string | undefined
}

/** @since 0.1.0 @category defaults */
export const BOT_ID = "5f0c2a7e-4a51-4d0b-9c8e-6a3f1d2b9e10"
/** @since 0.1.0 @category defaults */
export const RECORDING_ID = "b1d7c3e2-8f4a-4c6b-a2d9-0e5f7a8b3c41"
/** @since 0.1.0 @category defaults */
export const START = "2026-11-20T15:00:00.000Z"

/**
 * A timestamp `relative` seconds into the recording, with its absolute time (microsecond precision, as Recall).
 *
 * @since 0.1.0
 * @category builders
 */
export const timestamp = (relative: number, start: string = START): RecallEvent.Timestamp => {
  const ms = Date.parse(start) + relative * 1000
  const iso = new Date(Math.floor(ms)).toISOString()
  const micros = Math.round((ms - Math.floor(ms)) * 1000).toString().padStart(3, "0")
  return { relative, absolute: `${iso.slice(0, -1)}${micros}Z` }
}

/**
 * A participant; `id` defaults to 100.
 *
 * @since 0.1.0
 * @category builders
 */
export const participant = (fields: Partial<RecallEvent.Participant> = {}): RecallEvent.Participant => ({
  id: 100,
  name: "Ada Lovelace",
  is_host: true,
  platform: "desktop",
  extra_data: {},
  email: null,
  ...fields
})

const envelope = (
  event: string,
  data: unknown,
  artifactKey: string,
  artifactId: string,
  origin: Origin
): { readonly event: string; readonly data: Record<string, unknown> } => {
  const body: Record<string, unknown> = {
    data,
    realtime_endpoint: { id: "rte-1", metadata: {} },
    [artifactKey]: { id: artifactId, metadata: {} },
    recording: { id: origin.recordingId ?? RECORDING_ID, metadata: {} }
  }
  if (origin.botId !== undefined || !("botId" in origin)) {
    body.bot = origin.botId === null ? null : { id: origin.botId ?? BOT_ID, metadata: {} }
  }
  return { event, data: body }
}

/**
 * Options shared by the builders: who, when (`at`, seconds of meeting time) and where from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Origin {
  readonly participant?: RecallEvent.Participant | undefined
  readonly at?: number | undefined
}

/**
 * A participant event other than a chat message (`data` is null).
 *
 * @since 0.1.0
 * @category builders
 */
export const participantEvent = (
  name: Exclude<Extract<RecallEvent.EventName, `participant_events.${string}`>, "participant_events.chat_message">,
  options: Options = {}
) =>
  envelope(
    name,
    {
      participant: options.participant ?? participant(),
      timestamp: timestamp(options.at ?? 0, options.start),
      data: null
    },
    "participant_events",
    "pe-1",
    options
  )

/**
 * Shorthand for the speech events.
 *
 * @since 0.1.0
 * @category builders
 */
export const speech = (
  name: "participant_events.speech_on" | "participant_events.speech_off",
  options: Options = {}
) => participantEvent(name, options)

/**
 * A chat message.
 *
 * @since 0.1.0
 * @category builders
 */
export const chat = (text: string, options: Options & { readonly to?: string } = {}) =>
  envelope(
    "participant_events.chat_message",
    {
      participant: options.participant ?? participant(),
      timestamp: timestamp(options.at ?? 0, options.start),
      data: { text, to: options.to ?? "everyone" }
    },
    "participant_events",
    "pe-1",
    options
  )

/**
 * A transcript utterance: `text` is split into words spread evenly over `[at, at + duration]`.
 *
 * @since 0.1.0
 * @category builders
 */
export const transcript = (
  text: string,
  options: Options & {
    readonly final?: boolean | undefined
    readonly duration?: number | undefined
    readonly languageCode?: string | null | undefined
  } = {}
) => {
  const words = text.split(/\s+/).filter((w) => w !== "")
  const start = options.at ?? 0
  const step = (options.duration ?? words.length * 0.4) / Math.max(1, words.length)
  const round = (n: number) => Math.round(n * 1000) / 1000
  const final = options.final ?? true
  return envelope(
    final ? "transcript.data" : "transcript.partial_data",
    {
      words: words.map((w, i) => ({
        text: w,
        start_timestamp: { relative: round(start + i * step) },
        end_timestamp: { relative: round(start + (i + 1) * step) }
      })),
      participant: options.participant ?? participant(),
      ...(options.languageCode === undefined ? {} : { language_code: options.languageCode })
    },
    "transcript",
    "tr-1",
    options
  )
}

/**
 * PCM samples as a base64 buffer (S16LE).
 *
 * @since 0.1.0
 * @category builders
 */
export const pcmBase64 = (samples: ArrayLike<number>): string => {
  const bytes = Buffer.alloc(samples.length * 2)
  for (let i = 0; i < samples.length; i++) bytes.writeInt16LE(Math.max(-32768, Math.min(32767, samples[i]!)), i * 2)
  return bytes.toString("base64")
}

/**
 * A pure tone: `seconds` of `frequency` Hz starting at meeting time `at` (phase continuous across chunks).
 *
 * @since 0.1.0
 * @category builders
 */
export const tone = (frequency: number, at: number, seconds: number, amplitude = 6000): Int16Array => {
  const first = Math.round(at * Audio.SAMPLE_RATE)
  const samples = new Int16Array(Math.round(seconds * Audio.SAMPLE_RATE))
  for (let i = 0; i < samples.length; i++) {
    samples[i] = Math.trunc(amplitude * Math.sin((2 * Math.PI * frequency * (first + i)) / Audio.SAMPLE_RATE))
  }
  return samples
}

/**
 * A mixed or separate audio chunk. Defaults: 100 ms of silence at meeting time 0, mixed.
 *
 * @since 0.1.0
 * @category builders
 */
export const audio = (
  options: Options & {
    readonly samples?: ArrayLike<number> | undefined
    readonly buffer?: string | undefined
    readonly separate?: boolean | undefined
    readonly artifactKey?: "audio_mixed" | "audio_mixed_raw" | undefined
  } = {}
) => {
  const buffer = options.buffer ?? pcmBase64(options.samples ?? new Int16Array(Audio.SAMPLE_RATE / 10))
  const ts = timestamp(options.at ?? 0, options.start)
  return options.separate === true
    ? envelope(
      "audio_separate_raw.data",
      { buffer, timestamp: ts, participant: options.participant ?? participant() },
      "audio_separate",
      "as-1",
      options
    )
    : envelope("audio_mixed_raw.data", { buffer, timestamp: ts }, options.artifactKey ?? "audio_mixed", "am-1", options)
}

/**
 * A video frame; `buffer` defaults to a valid 1x1 PNG for PNG frames and a few H.264 bytes otherwise.
 *
 * @since 0.1.0
 * @category builders
 */
export const video = (
  options: Options & {
    readonly format?: "png" | "h264" | undefined
    readonly type?: RecallEvent.VideoType | undefined
    readonly buffer?: string | undefined
  } = {}
) => {
  const format = options.format ?? "png"
  return envelope(
    format === "png" ? "video_separate_png.data" : "video_separate_h264.data",
    {
      buffer: options.buffer ?? (format === "png" ? ONE_PIXEL_PNG : "AAAAAWdCwB7ZAKAv+WEAAAMAAQAAAwAyDxYuSA=="),
      timestamp: timestamp(options.at ?? 0, options.start),
      type: options.type ?? "webcam",
      participant: options.participant ?? participant()
    },
    "video_separate",
    "vs-1",
    options
  )
}

/**
 * A raw speech-provider message.
 *
 * @since 0.1.0
 * @category builders
 */
export const providerData = (payload: unknown, options: Origin = {}) =>
  envelope("transcript.provider_data", { data: { payload } }, "transcript", "tr-1", options)

/**
 * A 1x1 PNG as base64.
 *
 * @since 0.1.0
 * @category builders
 */
export const ONE_PIXEL_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"

/**
 * One valid message of every known event name, for tests that walk them all.
 *
 * @since 0.1.0
 * @category builders
 */
export const everyEvent = (options: Origin = {}): Record<RecallEvent.EventName, unknown> => ({
  "participant_events.join": participantEvent("participant_events.join", options),
  "participant_events.leave": participantEvent("participant_events.leave", { ...options, at: 9 }),
  "participant_events.update": participantEvent("participant_events.update", {
    ...options,
    participant: participant({ email: "ada@example.com" })
  }),
  "participant_events.speech_on": participantEvent("participant_events.speech_on", { ...options, at: 1 }),
  "participant_events.speech_off": participantEvent("participant_events.speech_off", { ...options, at: 2 }),
  "participant_events.webcam_on": participantEvent("participant_events.webcam_on", { ...options, at: 1 }),
  "participant_events.webcam_off": participantEvent("participant_events.webcam_off", { ...options, at: 3 }),
  "participant_events.screenshare_on": participantEvent("participant_events.screenshare_on", { ...options, at: 4 }),
  "participant_events.screenshare_off": participantEvent("participant_events.screenshare_off", { ...options, at: 5 }),
  "participant_events.chat_message": chat("hello", { ...options, at: 6 }),
  "transcript.data": transcript("we shipped the parser", { ...options, at: 1 }),
  "transcript.partial_data": transcript("we shipped", { ...options, at: 1, final: false }),
  "transcript.provider_data": providerData({ type: "Results", is_final: true }, options),
  "audio_mixed_raw.data": audio(options),
  "audio_separate_raw.data": audio({ ...options, separate: true }),
  "video_separate_png.data": video(options),
  "video_separate_h264.data": video({ ...options, format: "h264", type: "screenshare" })
})
