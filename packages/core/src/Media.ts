/**
 * Media buffers, decoded once and only when asked. Schema decoding checks an audio or video `buffer` only to be a
 * string; `bytes` turns it into bytes the first time it is called for a message and remembers the result for as
 * long as the message lives, so several consumers of one event pay for one base64 decode.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Base64 from "./internal/base64.js"
import type * as RecallEvent from "./RecallEvent.js"

/**
 * A media buffer that cannot be used: not padded base64 (`InvalidBase64`, e.g. truncated), PCM with an odd
 * number of bytes (`OddByteCount`), or a video frame that is not a PNG (`NotPng`).
 *
 * @since 0.1.0
 * @category errors
 */
export class MediaError extends Data.TaggedError("MediaError")<{
  readonly reason: "InvalidBase64" | "OddByteCount" | "NotPng"
  readonly event: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.reason} in ${this.event}: ${this.detail}`
  }
}

const cache = new WeakMap<object, Uint8Array>()

/**
 * The decoded bytes of an audio or video message's `buffer`, decoded at most once per message.
 *
 * @since 0.1.0
 * @category decoding
 */
export const bytes = (event: RecallEvent.MediaEvent): Either.Either<Uint8Array, MediaError> => {
  const payload = event.data.data
  const cached = cache.get(payload)
  if (cached !== undefined) return Either.right(cached)
  const buffer = payload.buffer
  const decoded = Base64.decode(buffer)
  if (decoded === undefined) {
    return Either.left(
      new MediaError({
        reason: "InvalidBase64",
        event: event.event,
        detail: `buffer of ${buffer.length} characters is not padded base64`
      })
    )
  }
  cache.set(payload, decoded)
  return Either.right(decoded)
}

/**
 * The number of bytes a message's `buffer` holds, computed from the base64 length without decoding.
 *
 * @since 0.1.0
 * @category accessors
 */
export const byteLength = (event: RecallEvent.MediaEvent): number => Base64.decodedLength(event.data.data.buffer)
