import { Decoder, Fixtures, type RecallEvent } from "@callstream/core"
import * as Either from "effect/Either"

/** Decodes a wire message built with core's Fixtures, failing the test when it does not decode. */
export const decode = (wire: unknown): RecallEvent.RecallEvent => {
  const decoded = Decoder.decodeEither(JSON.stringify(wire))
  if (Either.isLeft(decoded)) throw new Error(`fixture does not decode: ${decoded.left.message}`)
  return decoded.right
}

export const person = (id: number | null, name: string | null = id === null ? null : `P${id}`) =>
  Fixtures.participant({ id, name, is_host: id === 100 })

type PEvent = Exclude<
  Extract<RecallEvent.EventName, `participant_events.${string}`>,
  "participant_events.chat_message"
>

export const pe = (name: PEvent, id: number | null, at: number, who = person(id)) =>
  decode(Fixtures.participantEvent(name, { participant: who, at }))

export const said = (text: string, id: number | null, at: number, options: {
  readonly final?: boolean
  readonly who?: RecallEvent.Participant
  readonly duration?: number
} = {}) =>
  decode(Fixtures.transcript(text, {
    participant: options.who ?? person(id),
    at,
    final: options.final ?? true,
    duration: options.duration
  }))

/** The power of one frequency in a block of samples (Goertzel). */
export const goertzel = (samples: Int16Array, frequency: number, rate = 16_000): number => {
  const k = 2 * Math.cos((2 * Math.PI * frequency) / rate)
  let s1 = 0
  let s2 = 0
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i]! + k * s1 - s2
    s2 = s1
    s1 = s0
  }
  return s1 * s1 + s2 * s2 - k * s1 * s2
}

/**
 * The dominant frequency among `candidates` in each 100 ms window, or 0 for a window that is (nearly) silent.
 */
export const dominantPerWindow = (samples: Int16Array, candidates: ReadonlyArray<number>): Array<number> => {
  const size = 1600
  const out: Array<number> = []
  for (let start = 0; start + size <= samples.length; start += size) {
    const block = samples.subarray(start, start + size)
    let energy = 0
    for (let i = 0; i < block.length; i++) energy += block[i]! * block[i]!
    if (energy / block.length < 1000) {
      out.push(0)
      continue
    }
    let best = 0
    let bestPower = -1
    for (const f of candidates) {
      const power = goertzel(block, f)
      if (power > bestPower) {
        bestPower = power
        best = f
      }
    }
    out.push(best)
  }
  return out
}

/** Reads a WAV written by WavWriter: its declared data length and its samples (from the bytes present). */
export const readWav = (bytes: Uint8Array) => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const text = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4))
  if (text(0) !== "RIFF" || text(8) !== "WAVE") throw new Error("not a WAV file")
  const declared = view.getUint32(40, true)
  const count = (bytes.byteLength - 44) >> 1
  const samples = new Int16Array(count)
  for (let i = 0; i < count; i++) samples[i] = view.getInt16(44 + i * 2, true)
  return { declared, riff: view.getUint32(4, true), rate: view.getUint32(24, true), samples }
}
