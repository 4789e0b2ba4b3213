/**
 * Helpers for video frames. PNG frames carry their size in the IHDR chunk: read it from there, never assume one
 * (Recall's documents name 360x640, 480x360 and 1280x720). H.264 payloads are kept opaque.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Media from "./Media.js"
import type * as RecallEvent from "./RecallEvent.js"

/**
 * The eight bytes every PNG file starts with.
 *
 * @since 0.1.0
 * @category constants
 */
export const PNG_SIGNATURE: ReadonlyArray<number> = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/**
 * @since 0.1.0
 * @category models
 */
export interface Size {
  readonly width: number
  readonly height: number
}

/**
 * Whether bytes start with the PNG signature and an IHDR chunk.
 *
 * @since 0.1.0
 * @category guards
 */
export const isPng = (bytes: Uint8Array): boolean => {
  if (bytes.byteLength < 24) return false
  for (let i = 0; i < 8; i++) if (bytes[i] !== PNG_SIGNATURE[i]) return false
  // chunk type at 12..15 must be "IHDR"
  return bytes[12] === 0x49 && bytes[13] === 0x48 && bytes[14] === 0x44 && bytes[15] === 0x52
}

/**
 * The width and height of a PNG, from its IHDR chunk.
 *
 * @since 0.1.0
 * @category decoding
 */
export const pngSize = (
  bytes: Uint8Array,
  event = "video_separate_png.data"
): Either.Either<Size, Media.MediaError> => {
  if (!isPng(bytes)) {
    return Either.left(
      new Media.MediaError({ reason: "NotPng", event, detail: "buffer does not start with a PNG signature and IHDR" })
    )
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return Either.right({ width: view.getUint32(16), height: view.getUint32(20) })
}

/**
 * The PNG bytes of a frame, checked to be a PNG, with its size.
 *
 * @since 0.1.0
 * @category decoding
 */
export const png = (
  event: RecallEvent.VideoSeparatePng
): Either.Either<{ readonly bytes: Uint8Array; readonly size: Size }, Media.MediaError> =>
  Either.flatMap(Media.bytes(event), (bytes) => Either.map(pngSize(bytes, event.event), (size) => ({ bytes, size })))

/**
 * The raw bytes of a frame of either format (decoded once per message).
 *
 * @since 0.1.0
 * @category decoding
 */
export const bytes = (event: RecallEvent.VideoEvent): Either.Either<Uint8Array, Media.MediaError> => Media.bytes(event)
