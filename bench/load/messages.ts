/**
 * What one simulated bot sends, built once as byte templates so the load generator only copies and patches bytes.
 *
 * A bot joins, then every 2 s cycle sends 20 mixed-audio chunks of 100 ms (3,200 bytes of PCM each, as base64), a
 * speech_on, a partial transcript, the final transcript of the same utterance and a speech_off; it leaves at the
 * end. With video (`cycleOf(n)`), each of `n` participants' webcams also sends a PNG frame every 500 ms (Recall's
 * "about 2 frames/s per participant, tens of KB each": here 32 KB, a 128x84 image of noise, which does not
 * compress). Messages are shaped by core's `Fixtures`; the parts that differ per bot or per send (bot and recording ids,
 * every `relative` and `absolute` time) are fixed-width slots, padded with JSON whitespace, filled in place.
 */
import { Audio, Decoder, Fixtures } from "@callstream/core"
import { Buffer } from "node:buffer"
import * as PngEncode from "../../packages/core/src/internal/pngEncode.js"

/** Length of the repeating part of a bot's schedule. */
export const CYCLE_MS = 2000

/** Audio chunk length: one mixed-audio message per chunk. */
export const CHUNK_MS = 100

const ID_WIDTH = 36 // a UUID, as Recall's ids
const RELATIVE_WIDTH = 12 // "   12345.678"
const ABSOLUTE_WIDTH = 27 // "2026-11-20T15:00:00.000000Z"

type SlotKind = "bot" | "recording" | "relative" | "absolute"

interface Slot {
  readonly kind: SlotKind
  /** Byte offset of the slot's first character. */
  readonly offset: number
  /** For times: seconds added to the message's meeting time. */
  readonly base: number
}

/** One message shape with the positions of its variable parts. */
export interface Template {
  readonly event: string
  readonly bytes: Buffer
  readonly slots: ReadonlyArray<Slot>
}

const MARK = /"@@(bot|recording|relative|absolute)@@([-0-9.e]*)@@"/g

/**
 * Turns a Fixtures message (built at meeting time 0) into a template. Times and ids become markers while it is
 * serialised, then fixed-width slots.
 */
const template = (message: { readonly event: string }): Template => {
  const marked = JSON.stringify(message, function(this: Record<string, unknown>, key, value) {
    if (key === "relative" && typeof value === "number") return `@@relative@@${value}@@`
    if (key === "absolute" && typeof this.relative === "number") return `@@absolute@@${this.relative}@@`
    if (value === "@@bot@@" || value === "@@recording@@") return `${value}@@`
    return value
  })
  const slots: Array<Slot> = []
  let text = ""
  let last = 0
  for (const match of marked.matchAll(MARK)) {
    text += marked.slice(last, match.index)
    last = match.index + match[0].length
    const kind = match[1] as SlotKind
    const width = kind === "relative" ? RELATIVE_WIDTH : kind === "absolute" ? ABSOLUTE_WIDTH : ID_WIDTH
    const quoted = kind !== "relative"
    slots.push({ kind, offset: text.length + (quoted ? 1 : 0), base: Number(match[2] || 0) })
    text += quoted ? `"${"0".repeat(width)}"` : " ".repeat(width - 1) + "0"
  }
  text += marked.slice(last)
  if (/[^\x20-\x7e]/.test(text)) throw new Error("templates must be ASCII: slots are byte offsets")
  return { event: message.event, bytes: Buffer.from(text, "latin1"), slots }
}

const origin = { botId: "@@bot@@", recordingId: "@@recording@@" }
const speaker = Fixtures.participant({ id: 100, name: "Ada Lovelace" })
const utterance = "so the plan for the release is to ship the parser first and then the server"

const join = template(Fixtures.participantEvent("participant_events.join", { ...origin, participant: speaker }))
const leave = template(Fixtures.participantEvent("participant_events.leave", { ...origin, participant: speaker }))
// 100 ms of a 440 Hz tone holds whole periods, so one chunk repeated is a continuous tone
const audio = template(Fixtures.audio({ ...origin, samples: Fixtures.tone(440, 0, CHUNK_MS / 1000) }))
const speechOn = template(Fixtures.speech("participant_events.speech_on", { ...origin, participant: speaker }))
const speechOff = template(Fixtures.speech("participant_events.speech_off", { ...origin, participant: speaker }))
const partial = template(
  Fixtures.transcript(utterance.split(" ").slice(0, 8).join(" "), { ...origin, participant: speaker, final: false })
)
const final = template(Fixtures.transcript(utterance, { ...origin, participant: speaker, languageCode: "en" }))

/** One entry of the cycle: when it is sent, and the meeting time its content speaks of (both from cycle start). */
export interface Step {
  readonly sendMs: number
  readonly atMs: number
  readonly template: Template
  readonly isAudio: boolean
}

const speechStartMs = 150
const speechEndMs = 1400

/** PNG frames each webcam sends per cycle (2 a second). */
const FRAMES_PER_CYCLE = 4

// a PNG of `width` x `height` RGB noise (a fixed seed): it does not compress, so its size is about its pixels'
const noisePng = (width: number, height: number): Uint8Array => {
  const pixels = new Uint8Array(width * height * 3)
  let seed = 12345
  for (let i = 0; i < pixels.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    pixels[i] = seed >>> 24
  }
  return PngEncode.rgb(width, height, pixels)
}

const frame = Buffer.from(noisePng(128, 84)).toString("base64")

// the webcam frame of participant `id` (each camera its own folder of frames)
const webcam = (id: number): Template =>
  template(
    Fixtures.video({
      ...origin,
      participant: Fixtures.participant({ id, name: `Camera ${id}` }),
      type: "webcam",
      buffer: frame
    })
  )

const audioAndSpeech: ReadonlyArray<Step> = [
  ...Array.from({ length: CYCLE_MS / CHUNK_MS }, (_, i): Step => ({
    sendMs: i * CHUNK_MS,
    atMs: i * CHUNK_MS,
    template: audio,
    isAudio: true
  })),
  { sendMs: speechStartMs, atMs: speechStartMs, template: speechOn, isAudio: false },
  { sendMs: 700, atMs: speechStartMs, template: partial, isAudio: false },
  { sendMs: speechEndMs - 50, atMs: speechStartMs, template: final, isAudio: false },
  { sendMs: speechEndMs, atMs: speechEndMs, template: speechOff, isAudio: false }
]

/**
 * The messages of one 2 s cycle, in sending order: audio and speech, and a PNG frame every 500 ms from each of
 * `cameras` webcams (participants 200, 201, ...; their frames spread over the 500 ms).
 */
export const cycleOf = (cameras: number): ReadonlyArray<Step> => {
  const frames = Array.from({ length: cameras }, (_, c) => {
    const camera = webcam(200 + c)
    return Array.from({ length: FRAMES_PER_CYCLE }, (_, f): Step => {
      const at = f * (CYCLE_MS / FRAMES_PER_CYCLE) + Math.floor((c * CYCLE_MS) / FRAMES_PER_CYCLE / cameras)
      return { sendMs: at, atMs: at, template: camera, isAudio: false }
    })
  })
  return [...audioAndSpeech, ...frames.flat()].sort((a, b) => a.sendMs - b.sendMs)
}

/** The cycle without video. */
export const cycle = cycleOf(0)

/** PCM seconds in one audio message. */
export const audioSecondsPerChunk = CHUNK_MS / 1000

/** Messages and bytes one bot sends per second, on average over `steps` (a cycle). */
export const perBotOf = (steps: ReadonlyArray<Step>) => ({
  messagesPerSecond: (steps.length * 1000) / CYCLE_MS,
  bytesPerSecond: (steps.reduce((n, step) => n + step.template.bytes.length, 0) * 1000) / CYCLE_MS,
  pcmBytesPerChunk: (Audio.SAMPLE_RATE * 2 * CHUNK_MS) / 1000
})

const isoMicros = (epochMs: number): string => {
  const whole = Math.floor(epochMs)
  const micros = Math.round((epochMs - whole) * 1000)
  return `${new Date(whole).toISOString().slice(0, -1)}${String(Math.min(999, micros)).padStart(3, "0")}Z`
}

/**
 * One bot's own copies of the templates, with its ids written in. `fill` writes the times of one message and
 * returns its bytes; the buffer is reused by the next `fill` of the same template (ws copies it when it masks the
 * frame, before `send` returns).
 */
export class BotMessages {
  private readonly copies = new Map<Template, Buffer>()

  constructor(
    readonly botId: string,
    readonly recordingId: string,
    /** Wall-clock time of meeting time 0, epoch ms. */
    readonly startedAt: number,
    steps: ReadonlyArray<Step> = cycle
  ) {
    if (botId.length !== ID_WIDTH || recordingId.length !== ID_WIDTH) throw new Error("ids must be UUIDs")
    for (const t of [join, leave, ...steps.map((step) => step.template)]) {
      if (this.copies.has(t)) continue
      const bytes = Buffer.from(t.bytes)
      for (const slot of t.slots) {
        if (slot.kind === "bot") bytes.write(botId, slot.offset, "latin1")
        if (slot.kind === "recording") bytes.write(recordingId, slot.offset, "latin1")
      }
      this.copies.set(t, bytes)
    }
  }

  fill(t: Template, atSeconds: number): Buffer {
    const bytes = this.copies.get(t)!
    for (const slot of t.slots) {
      const seconds = atSeconds + slot.base
      if (slot.kind === "relative") {
        bytes.write(seconds.toFixed(3).padStart(RELATIVE_WIDTH), slot.offset, "latin1")
      } else if (slot.kind === "absolute") {
        bytes.write(isoMicros(this.startedAt + seconds * 1000), slot.offset, "latin1")
      }
    }
    return bytes
  }

  join(): Buffer {
    return this.fill(join, 0)
  }

  leave(atSeconds: number): Buffer {
    return this.fill(leave, atSeconds)
  }
}

/**
 * Fails unless every message a bot sends decodes to the event it claims, carries the bot's id and says the meeting
 * time it was filled with: a broken template would otherwise be measured as decode failures.
 */
export const check = (steps: ReadonlyArray<Step>): void => {
  const botId = "00000000-0000-4000-8000-000000000001"
  const bot = new BotMessages(botId, "00000000-0000-4000-8000-000000000002", Date.parse(Fixtures.START), steps)
  const at = 12.3
  const sent: ReadonlyArray<readonly [Buffer, number]> = [
    [bot.join(), 0],
    ...steps.map((step) => [bot.fill(step.template, at), at] as const),
    [bot.leave(at), at]
  ]
  for (const [bytes, seconds] of sent) {
    const decoded = Decoder.decodeEither(bytes.toString("latin1"))
    if (decoded._tag === "Left") throw new Error(`a load template does not decode: ${decoded.left.message}`)
    const text = JSON.stringify(decoded.right)
    if (!text.includes(botId) || !text.includes(`"relative":${seconds}`)) {
      throw new Error(`a load template lost its bot id or time: ${decoded.right.event}`)
    }
  }
}
