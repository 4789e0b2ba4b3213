/**
 * Text from the wire (session keys, event names, participant names, remote addresses) made safe to print: control
 * characters are escaped (`\n`, `\u001b`, ...), so a crafted value cannot forge log lines or move a terminal's
 * cursor, and long values are cut to a readable length with the original length said.
 *
 * @example
 * ```ts
 * import { Printable } from "@callstream/core"
 * import { strictEqual } from "node:assert"
 *
 * strictEqual(Printable.text("bot\n[INFO] forged"), "bot\\n[INFO] forged")
 * strictEqual(Printable.text("x".repeat(500)), "x".repeat(120) + "…(500 chars)")
 * ```
 *
 * @since 0.2.0
 */

/**
 * How many characters {@link text} keeps by default.
 *
 * @since 0.2.0
 * @category constants
 */
export const MAX_LENGTH = 120

// C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides that reorder what a reader sees
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

const escape = (c: string): string => {
  switch (c) {
    case "\n":
      return "\\n"
    case "\r":
      return "\\r"
    case "\t":
      return "\\t"
    default:
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  }
}

/**
 * `value` with control characters escaped and cut to `maxLength` characters (then ending in `…(N chars)`).
 *
 * @since 0.2.0
 * @category formatting
 */
export const text = (value: string, maxLength: number = MAX_LENGTH): string => {
  const cut = value.length > maxLength ? value.slice(0, maxLength) : value
  const escaped = cut.replace(UNSAFE, escape)
  return cut.length < value.length ? `${escaped}…(${value.length} chars)` : escaped
}
