/**
 * The name of a session's folder, from its session key. A key comes from the wire (the bot id, else the recording
 * id), so it may hold anything: slashes, NUL, `..`, CJK, 300 characters. The name is always one safe path segment,
 * and two different keys never get the same name:
 *
 * - a key that is already a safe name (letters, digits, `.`, `_`, `-`; 1 to 100 characters; not `.` or `..`) is
 *   its own name, so Recall's UUIDs read as they are;
 * - any other key gets a readable prefix (each run of other characters becomes one `_`, at most
 *   {@link PREFIX_LENGTH} characters), then `~`, then the first 32 hex digits of the SHA-256 of the key's UTF-8
 *   bytes. `~` is outside the safe set, so no safe key can name the same folder; the hash tells apart the keys
 *   whose prefixes match.
 * - a key that is not even well-formed text (a lone UTF-16 surrogate, which JSON can carry) has no UTF-8 bytes of
 *   its own: its hash is taken over its UTF-16 code units instead, after `~~`, so it can share a name neither with
 *   another such key nor with a well-formed one.
 *
 * Names are pure ASCII, at most 100 bytes long (98 for a name made from a key that is not safe). The real key
 * lives in the folder's `session.json`. 32 hex digits are 128 bits of the hash: two keys that share a prefix
 * share a name neither by chance nor on purpose (finding such a pair takes about 2^64 tries).
 *
 * @example
 * ```ts
 * import { SessionFolder } from "@callstream/sinks"
 *
 * SessionFolder.nameOf("5f0c2a7e-4a51-4d0b-9c8e-6a3f1d2b9e10") // "5f0c2a7e-4a51-4d0b-9c8e-6a3f1d2b9e10"
 * SessionFolder.nameOf("a/b") // "a_b~" followed by 32 hex digits
 * SessionFolder.nameOf("a_b") // "a_b"
 * ```
 *
 * @since 0.2.0
 */
import * as Crypto from "node:crypto"

/**
 * The longest key that is its own folder name.
 *
 * @since 0.2.0
 * @category constants
 */
export const SAFE_LENGTH = 100

/**
 * The longest readable prefix of a name made for a key that is not safe.
 *
 * @since 0.2.0
 * @category constants
 */
export const PREFIX_LENGTH = 64

/**
 * Hex digits of the key's SHA-256 in a name made for a key that is not safe.
 *
 * @since 0.2.0
 * @category constants
 */
export const HASH_LENGTH = 32

const SAFE = /^[A-Za-z0-9._-]+$/
const UNSAFE_RUN = /[^A-Za-z0-9._-]+/g
// in a `u` regular expression a surrogate pair is one code point, so this matches lone surrogates only
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

const sha256 = (bytes: Buffer): string => Crypto.createHash("sha256").update(bytes).digest("hex").slice(0, HASH_LENGTH)

/**
 * Whether a key is its own folder name: letters, digits, `.`, `_` and `-`, 1 to {@link SAFE_LENGTH} characters,
 * and not `.` or `..`.
 *
 * @since 0.2.0
 * @category predicates
 */
export const isSafe = (key: string): boolean =>
  key.length <= SAFE_LENGTH && SAFE.test(key) && key !== "." && key !== ".."

/**
 * The folder name of a session key (see the module's description). Total: every string, the empty one included,
 * gets a name.
 *
 * @since 0.2.0
 * @category accessors
 */
export const nameOf = (key: string): string => {
  if (isSafe(key)) return key
  const prefix = key.replace(UNSAFE_RUN, "_").slice(0, PREFIX_LENGTH)
  return LONE_SURROGATE.test(key)
    ? `${prefix}~~${sha256(Buffer.from(key, "utf16le"))}`
    : `${prefix}~${sha256(Buffer.from(key, "utf8"))}`
}
