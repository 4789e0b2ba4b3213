/**
 * Synthetic meetings, as tapes: what Recall would send for a short meeting of three participants, built in
 * memory from a seed. The demo replays one, tests of every package feed one to their pipelines, benchmarks scale
 * one up.
 *
 * Participants 100 (Ada, host, webcam on), 200 (Grace) and 300 (a dial-in with no name) join, then take turns
 * speaking. During its turns each one "speaks" a pure tone of its own frequency ({@link frequencies}), so a
 * test can tell from the audio alone who spoke when. A meeting has joins, a webcam, speech on/off, a partial
 * and a final transcript per turn, a chat message after the third turn, a screenshare during the fourth, mixed
 * audio in `chunkMs` chunks covering the whole meeting, optionally audio per speaking participant and webcam
 * PNG frames at 2 fps, and a leave. Entries are sorted by `at`.
 *
 * This is a port of `meetgen.py`, the generator of the project's reference fixture, down to its random numbers
 * (CPython's Mersenne Twister) and its rounding: `generate(FIXTURE)` equals that fixture entry for entry.
 *
 * @example
 * ```ts
 * import { SampleMeeting } from "@callstream/core"
 *
 * const meeting = SampleMeeting.generate({ seed: 7, duration: 60, separate: true })
 * // save it as meeting.jsonl, then: callstream replay meeting.jsonl --url ws://...
 * const tape: string = SampleMeeting.toJsonl(meeting)
 * ```
 *
 * @since 0.1.0
 */
import * as Audio from "./Audio.js"
import * as PngEncode from "./internal/pngEncode.js"
import * as PyRandom from "./internal/random.js"
import type * as RecallEvent from "./RecallEvent.js"
import * as Tape from "./Tape.js"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * How to build a meeting. Every field is optional; see {@link DEFAULTS}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** An integer seed: the same seed gives the same meeting. */
  readonly seed?: number | undefined
  /** The meeting's length in seconds. */
  readonly duration?: number | undefined
  /** Milliseconds of audio per chunk (a positive integer). */
  readonly chunkMs?: number | undefined
  readonly botId?: string | undefined
  readonly recordingId?: string | undefined
  /** When the recording started, ISO-8601; `absolute` timestamps count from it and are written in UTC. */
  readonly start?: string | undefined
  /** Also send `audio_separate_raw.data` for each speaking participant. */
  readonly separate?: boolean | undefined
  /** Also send `video_separate_png.data` webcam frames of participant 100 at 2 fps. */
  readonly video?: boolean | undefined
}

/**
 * A speech turn: `participantId` speaks from `start` to `end` (seconds, end excluded).
 *
 * @since 0.1.0
 * @category models
 */
export interface Turn {
  readonly participantId: number
  readonly start: number
  readonly end: number
}

/**
 * A participant of the sample meeting, with the frequency of the tone it speaks.
 *
 * @since 0.1.0
 * @category models
 */
export interface SampleParticipant {
  readonly participant: RecallEvent.Participant
  readonly frequency: number
}

/**
 * A generated meeting: its tape entries sorted by `at`, the turns used to make it and the options it was made
 * with (defaults filled in).
 *
 * @since 0.1.0
 * @category models
 */
export interface SampleMeeting {
  readonly entries: ReadonlyArray<Tape.TapeEntry>
  readonly turns: ReadonlyArray<Turn>
  readonly participants: ReadonlyArray<SampleParticipant>
  readonly options: ResolvedOptions
}

/**
 * {@link Options} with every default filled in.
 *
 * @since 0.1.0
 * @category models
 */
export type ResolvedOptions = { readonly [K in keyof Options]-?: Exclude<Options[K], undefined> }

// -----------------------------------------------------------------------------
// Constants
// -----------------------------------------------------------------------------

/**
 * The options used when a field is left out.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULTS: ResolvedOptions = {
  seed: 1,
  duration: 30,
  chunkMs: 100,
  botId: "5f0c2a7e-4a51-4d0b-9c8e-6a3f1d2b9e10",
  recordingId: "b1d7c3e2-8f4a-4c6b-a2d9-0e5f7a8b3c41",
  start: "2026-11-20T15:00:00.000000Z",
  separate: false,
  video: false
}

/**
 * The options of the reference fixture (`meetgen.py --seed 1 --duration 30 --separate --video`): every event
 * family, 30 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const FIXTURE: Options = { seed: 1, duration: 30, separate: true, video: true }

/**
 * The peak amplitude of each participant's tone (a 16-bit sample).
 *
 * @since 0.1.0
 * @category constants
 */
export const AMPLITUDE = 6000

/**
 * The frequency (Hz) of the tone each participant speaks, by participant id.
 *
 * @since 0.1.0
 * @category constants
 */
export const frequencies: Readonly<Record<number, number>> = { 100: 330, 200: 550, 300: 770 }

/**
 * The three participants, in the order they join (and take turns).
 *
 * @since 0.1.0
 * @category constants
 */
export const participants: ReadonlyArray<SampleParticipant> = [
  {
    participant: {
      id: 100,
      name: "Ada Lovelace",
      is_host: true,
      platform: "desktop",
      extra_data: { zoom: { guest: false } },
      email: null
    },
    frequency: 330
  },
  {
    participant: { id: 200, name: "Grace Hopper", is_host: false, platform: "desktop", extra_data: {}, email: null },
    frequency: 550
  },
  {
    participant: { id: 300, name: null, is_host: false, platform: "dial-in", extra_data: {}, email: null },
    frequency: 770
  }
]

const WORDS = "we shipped the parser today and the reconnect path needs another look before friday".split(" ")

const CHAT = { text: "link: https://example.com/spec", to: "everyone" } as const

// -----------------------------------------------------------------------------
// Time
// -----------------------------------------------------------------------------

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i

// Microseconds since the epoch of an ISO-8601 date-time (no offset means UTC).
const parseStart = (start: string): number => {
  const m = ISO.exec(start)
  if (m === null) throw new RangeError(`start is not an ISO-8601 date-time: ${start}`)
  const [, y, mo, d, h, mi, s, fraction, zone] = m
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0))
  let micros = ms * 1000 + Number((fraction ?? "").slice(0, 6).padEnd(6, "0"))
  if (zone !== undefined && zone.toUpperCase() !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1
    const digits = zone.slice(1).replace(":", "")
    micros -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0)) * 60_000_000
  }
  return micros
}

// Whole microseconds in `seconds`, rounded as Python's `timedelta(seconds=...)` rounds them: the fraction is
// scaled to microseconds in double arithmetic and what is left rounds to nearest, ties to an even total.
const deltaMicros = (seconds: number): number => {
  const whole = Math.trunc(seconds)
  let micros = whole * 1_000_000
  const fraction = seconds - whole
  if (fraction === 0) return micros
  const scaled = fraction * 1_000_000
  const scaledWhole = Math.trunc(scaled)
  micros += scaledWhole
  const leftover = scaled - scaledWhole
  let rounded = Math.sign(leftover) * Math.round(Math.abs(leftover))
  if (Math.abs(rounded - leftover) === 0.5) {
    const odd = Math.abs(micros % 2)
    rounded = 2 * Math.round((leftover + odd) * 0.5) - odd
  }
  return micros + rounded
}

const formatMicros = (micros: number): string => {
  const seconds = Math.floor(micros / 1_000_000)
  const fraction = micros - seconds * 1_000_000
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(fraction).padStart(6, "0")}Z`
}

// -----------------------------------------------------------------------------
// Generation
// -----------------------------------------------------------------------------

const resolve = (options: Options): ResolvedOptions => {
  const resolved = { ...DEFAULTS }
  for (const key of Object.keys(DEFAULTS) as Array<keyof Options>) {
    if (options[key] !== undefined) (resolved as Record<string, unknown>)[key] = options[key]
  }
  if (!Number.isSafeInteger(resolved.seed)) throw new RangeError(`seed must be an integer, got ${resolved.seed}`)
  if (!(Number.isFinite(resolved.duration) && resolved.duration > 0)) {
    throw new RangeError(`duration must be a positive number of seconds, got ${resolved.duration}`)
  }
  if (!(Number.isSafeInteger(resolved.chunkMs) && resolved.chunkMs * Audio.SAMPLE_RATE >= 1000)) {
    throw new RangeError(`chunkMs must be an integer of at least 1 sample, got ${resolved.chunkMs}`)
  }
  return resolved
}

const tone = (frequency: number, first: number, count: number): Int16Array => {
  const samples = new Int16Array(count)
  for (let i = 0; i < count; i++) {
    samples[i] = Math.trunc(AMPLITUDE * Math.sin(2 * Math.PI * frequency * (first + i) / Audio.SAMPLE_RATE))
  }
  return samples
}

const base64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

// S16LE bytes of samples, whatever the machine's byte order.
const pcmBase64 = (samples: Int16Array): string => {
  if (littleEndian) return base64(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength))
  const bytes = Buffer.alloc(samples.length * 2)
  for (let i = 0; i < samples.length; i++) bytes.writeInt16LE(samples[i]!, i * 2)
  return bytes.toString("base64")
}

/**
 * Builds a meeting. Pure and deterministic: the same options give the same entries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = (options: Options = {}): SampleMeeting => {
  const o = resolve(options)
  const rnd = PyRandom.make(o.seed)
  const round = PyRandom.round
  const duration = o.duration
  const t0 = parseStart(o.start)
  const endpointId = `rte-${Array.from(o.botId).slice(0, 8).join("")}`

  const ts = (relative: number): RecallEvent.Timestamp => ({
    relative: round(relative, 6),
    absolute: formatMicros(t0 + deltaMicros(relative))
  })
  const ref = (id: string) => ({ id, metadata: {} })
  const part = (p: SampleParticipant): RecallEvent.Participant => ({ ...p.participant })
  const envelope = (event: string, data: unknown, artifactKey: string, artifactId: string) => ({
    event,
    data: {
      data,
      realtime_endpoint: ref(endpointId),
      [artifactKey]: ref(artifactId),
      recording: ref(o.recordingId),
      bot: { id: o.botId, metadata: { customer: "acme" } }
    }
  })
  const participantEvent = (event: string, p: SampleParticipant, at: number, data: unknown = null) =>
    envelope(
      `participant_events.${event}`,
      { participant: part(p), timestamp: ts(at), data },
      "participant_events",
      "pe-1"
    )

  const entries: Array<Tape.TapeEntry> = []
  const emit = (at: number, message: unknown) => {
    entries.push({ at: round(at, 6), message })
  }
  const [ada, , dialIn] = participants as readonly [SampleParticipant, SampleParticipant, SampleParticipant]

  // Joins, then Ada's webcam.
  participants.forEach((p, i) => emit(0.2 + i * 0.5, participantEvent("join", p, 0.2 + i * 0.5)))
  emit(1.8, participantEvent("webcam_on", ada, 1.8))

  // Speech turns: round robin, never overlapping, drawn from the seed.
  const turns: Array<{ readonly speaker: SampleParticipant; readonly start: number; readonly end: number }> = []
  for (let t = 2.0, k = 0; t < duration - 3; k++) {
    const length = round(rnd.uniform(1.5, 4.0), 1)
    const end = round(Math.min(t + length, duration - 2), 3)
    turns.push({ speaker: participants[k % participants.length]!, start: t, end })
    t = round(end + round(rnd.uniform(0.3, 1.2), 1), 3)
  }

  turns.forEach(({ end: e, speaker: p, start: s }, n) => {
    emit(s, participantEvent("speech_on", p, s))
    emit(e, participantEvent("speech_off", p, e))
    const count = Math.max(2, Math.trunc((e - s) * 2.5))
    const step = (e - s) / count
    const words: Array<RecallEvent.Word> = []
    for (let j = 0; j < count; j++) {
      words.push({
        text: WORDS[(n * 7 + j) % WORDS.length]!,
        start_timestamp: { relative: round(s + j * step, 3) },
        end_timestamp: { relative: round(s + (j + 1) * step, 3) }
      })
    }
    const half = Math.max(1, Math.floor(count / 2))
    emit(
      s + (e - s) / 2 + 0.4,
      envelope("transcript.partial_data", { words: words.slice(0, half), participant: part(p) }, "transcript", "tr-1")
    )
    emit(
      e + 0.8,
      envelope("transcript.data", { words, participant: part(p), language_code: "en" }, "transcript", "tr-1")
    )
    if (n === 2) emit(e + 0.3, participantEvent("chat_message", p, e + 0.3, { ...CHAT }))
    if (n === 3) {
      emit(s, participantEvent("screenshare_on", p, s))
      emit(e, participantEvent("screenshare_off", p, e))
    }
  })

  // Audio: mixed chunks cover the whole meeting; separate chunks only while a participant speaks. Turns are
  // sorted and never overlap, so at most one participant speaks in a chunk: the one of the current turn.
  const perChunk = Math.floor(Audio.SAMPLE_RATE * o.chunkMs / 1000)
  const chunks = Math.trunc(PyRandom.floorDiv(duration * 1000, o.chunkMs))
  let current = 0
  for (let c = 0; c < chunks; c++) {
    const first = c * perChunk
    const rel = first / Audio.SAMPLE_RATE
    while (current < turns.length && turns[current]!.end <= rel) current++
    const turn = turns[current]
    let mixed: Int16Array = new Int16Array(perChunk)
    if (turn !== undefined && turn.start <= rel) {
      const p = turn.speaker
      mixed = tone(p.frequency, first, perChunk)
      if (o.separate) {
        emit(
          rel + o.chunkMs / 1000,
          envelope(
            "audio_separate_raw.data",
            { buffer: pcmBase64(mixed), timestamp: ts(rel), participant: part(p) },
            "audio_separate",
            "as-1"
          )
        )
      }
    }
    emit(
      rel + o.chunkMs / 1000,
      envelope("audio_mixed_raw.data", { buffer: pcmBase64(mixed), timestamp: ts(rel) }, "audio_mixed", "am-1")
    )
  }

  // Ada's webcam at 2 fps, a colour that changes with every frame.
  if (o.video) {
    for (let f = Math.trunc(1.8 * 2); f < Math.trunc(duration * 2); f++) {
      const rel = f / 2
      const png = PngEncode.solidRgb(8, 6, [200, 40 + f % 100, 90])
      emit(
        rel + 0.05,
        envelope(
          "video_separate_png.data",
          { buffer: base64(png), timestamp: ts(rel), type: "webcam", participant: part(ada) },
          "video_separate",
          "vs-1"
        )
      )
    }
  }

  emit(duration - 0.5, participantEvent("leave", dialIn, duration - 0.5))

  // A stable sort keeps the order of emission among equal times, as Python's does.
  entries.sort((a, b) => a.at - b.at)
  return {
    entries,
    turns: turns.map(({ end, speaker, start }) => ({ participantId: speaker.participant.id!, start, end })),
    participants,
    options: o
  }
}

/**
 * The meeting as a tape: one JSON line per entry.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJsonl = (meeting: Pick<SampleMeeting, "entries">): string => {
  let text = ""
  for (const entry of meeting.entries) text += Tape.formatLine(entry.at, entry.message)
  return text
}
