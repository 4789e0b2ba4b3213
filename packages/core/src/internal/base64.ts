/**
 * The number of bytes a base64 string stands for, read from its length and padding alone (no decoding, no
 * allocation). Accepts padded and unpadded text; assumes no white space, as Recall sends none.
 *
 * @internal
 */
export const decodedLength = (base64: string): number => {
  const length = base64.length
  if (length === 0) return 0
  let padding = 0
  if (base64.charCodeAt(length - 1) === 61) padding++
  if (length > 1 && base64.charCodeAt(length - 2) === 61) padding++
  return Math.floor((length * 3) / 4) - padding
}

/**
 * Decodes padded standard base64 (what Recall sends), or gives `undefined` for anything else. Checked without a
 * pass of its own over the text: `Buffer.from(s, "base64")` skips every character outside the alphabet (and stops
 * at a `=` inside the text), so a string that is not valid base64 decodes to fewer bytes than its length and
 * padding promise. The only characters the decoder takes that standard base64 does not are the URL-safe `-` and
 * `_`, looked for with `indexOf` (a native scan).
 *
 * @internal
 */
export const decode = (base64: string): Uint8Array | undefined => {
  if (base64.length % 4 !== 0) return undefined
  const bytes = Buffer.from(base64, "base64")
  return isStandard(base64, bytes.byteLength) ? bytes : undefined
}

// what the decoder wrote is all the text promises, and the text holds none of the URL-safe characters
const isStandard = (base64: string, written: number): boolean =>
  written === decodedLength(base64) && base64.indexOf("-") === -1 && base64.indexOf("_") === -1

/**
 * {@link decode} into `target` instead of a new buffer: the bytes are a view of `target`, valid until it is written
 * again. `undefined` when the text is not padded standard base64, or when it does not fit in `target`.
 *
 * @internal
 */
export const decodeInto = (base64: string, target: Buffer): Uint8Array | undefined => {
  if (base64.length % 4 !== 0 || decodedLength(base64) > target.length) return undefined
  const written = target.write(base64, 0, "base64")
  return isStandard(base64, written) ? target.subarray(0, written) : undefined
}
