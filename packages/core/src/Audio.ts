/**
 * Recall's audio format and helpers for it: signed 16-bit little-endian PCM, 16 000 Hz, mono, so 32 000 bytes a
 * second. A chunk's `timestamp.relative` is the meeting time of its first sample.
 *
 * @example
 * ```ts
 * import { Audio, Decoder } from "@callstream/core"
 * import { Effect } from "effect"
 *
 * const loudness = (frame: string) =>
 *   Effect.gen(function*() {
 *     const event = yield* Decoder.decode(frame)
 *     if (event.event !== "audio_mixed_raw.data") return 0
 *     const samples = yield* Audio.pcm(event)
 *     return samples.reduce((peak, s) => Math.max(peak, Math.abs(s)), 0)
 *   })
 * ```
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Base64 from "./internal/base64.js"
import * as Media from "./Media.js"
import type * as RecallEvent from "./RecallEvent.js"

/** @since 0.1.0 @category constants */
export const SAMPLE_RATE = 16_000
/** @since 0.1.0 @category constants */
export const BYTES_PER_SAMPLE = 2
/** @since 0.1.0 @category constants */
export const BYTES_PER_SECOND = SAMPLE_RATE * BYTES_PER_SAMPLE

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * Reads S16LE bytes as samples. Shares memory with `bytes` when it can (aligned, little-endian machine).
 *
 * @since 0.1.0
 * @category decoding
 */
export const samplesOf = (bytes: Uint8Array): Int16Array => {
  const count = bytes.byteLength >> 1
  if (littleEndian && bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, count)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const samples = new Int16Array(count)
  for (let i = 0; i < count; i++) samples[i] = view.getInt16(i * 2, true)
  return samples
}

/**
 * The PCM bytes of an audio chunk, checked to hold whole samples.
 *
 * @since 0.1.0
 * @category decoding
 */
export const bytes = (event: RecallEvent.AudioEvent): Either.Either<Uint8Array, Media.MediaError> =>
  Either.flatMap(Media.bytes(event), (pcm) =>
    pcm.byteLength % BYTES_PER_SAMPLE === 0 ? Either.right(pcm) : Either.left(
      new Media.MediaError({
        reason: "OddByteCount",
        event: event.event,
        detail: `${pcm.byteLength} bytes is not a whole number of 16-bit samples`
      })
    ))

/**
 * The samples of an audio chunk (decoded from base64 once per message).
 *
 * @since 0.1.0
 * @category decoding
 */
export const pcm = (event: RecallEvent.AudioEvent): Either.Either<Int16Array, Media.MediaError> =>
  Either.map(bytes(event), samplesOf)

/**
 * The samples of an audio chunk decoded into `scratch` instead of a buffer of their own: a view of `scratch`, valid
 * until the next decode into it, for a consumer that copies them at once (the session recorder decodes every chunk
 * this way, so a live meeting allocates nothing per chunk). A chunk that does not fit, or does not decode, takes
 * {@link pcm}'s path, with its result or its error.
 *
 * @example
 * ```ts
 * import { Audio, Decoder } from "@callstream/core"
 * import { Effect } from "effect"
 *
 * const scratch = Buffer.allocUnsafe(64 * 1024)
 * const peak = (frame: string) =>
 *   Effect.gen(function*() {
 *     const event = yield* Decoder.decode(frame)
 *     if (event.event !== "audio_mixed_raw.data") return 0
 *     // read the samples before the next decode into scratch
 *     const samples = yield* Audio.pcmInto(event, scratch)
 *     return samples.reduce((peak, s) => Math.max(peak, Math.abs(s)), 0)
 *   })
 * ```
 *
 * @since 0.2.0
 * @category decoding
 */
export const pcmInto = (
  event: RecallEvent.AudioEvent,
  scratch: Buffer
): Either.Either<Int16Array, Media.MediaError> => {
  const decoded = Base64.decodeInto(event.data.data.buffer, scratch)
  if (decoded === undefined || decoded.byteLength % BYTES_PER_SAMPLE !== 0) return pcm(event)
  return Either.right(samplesOf(decoded))
}

/**
 * How long a chunk plays, in seconds, from the base64 length alone (nothing is decoded).
 *
 * @since 0.1.0
 * @category accessors
 */
export const durationOf = (event: RecallEvent.AudioEvent): number => Media.byteLength(event) / BYTES_PER_SECOND

/**
 * The meeting time (seconds) right after a chunk's last sample.
 *
 * @since 0.1.0
 * @category accessors
 */
export const endOf = (event: RecallEvent.AudioEvent): number => event.data.data.timestamp.relative + durationOf(event)

/**
 * Seconds of audio in a number of PCM bytes.
 *
 * @since 0.1.0
 * @category accessors
 */
export const secondsOf = (byteCount: number): number => byteCount / BYTES_PER_SECOND
