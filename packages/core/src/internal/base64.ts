/** @internal */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * Whether a string is padded standard base64 (what Recall sends). `Buffer.from(s, "base64")` silently skips
 * anything else, so a truncated or corrupted buffer has to be caught here.
 *
 * @internal
 */
export const isBase64 = (s: string): boolean => s.length % 4 === 0 && BASE64.test(s)

/**
 * The number of bytes a padded base64 string decodes to, without decoding it.
 *
 * @internal
 */
export const decodedLength = (s: string): number => {
  if (s.length === 0) return 0
  const padding = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0
  return Math.floor((s.length * 3) / 4) - padding
}
