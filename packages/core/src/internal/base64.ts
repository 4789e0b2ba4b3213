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

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * Whether a string is padded standard base64 (what Recall sends). `Buffer.from(s, "base64")` silently skips
 * anything else, so a truncated or corrupted buffer has to be caught here.
 *
 * @internal
 */
export const isBase64 = (s: string): boolean => s.length % 4 === 0 && BASE64.test(s)
