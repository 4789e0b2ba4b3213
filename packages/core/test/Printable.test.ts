import { describe, expect, it } from "@effect/vitest"
import { Printable } from "../src/index.js"

describe("Printable.text", () => {
  it("escapes control characters, so a value cannot forge a log line or drive a terminal", () => {
    expect(Printable.text("bot\n[INFO] forged")).toBe("bot\\n[INFO] forged")
    expect(Printable.text("a\r\tb\u0000c\u001b[2Jd\u007f")).toBe("a\\r\\tb\\u0000c\\u001b[2Jd\\u007f")
    expect(Printable.text("left\u202eright\u2028")).toBe("left\\u202eright\\u2028")
  })

  it("keeps printable text as it is, CJK and emoji included", () => {
    expect(Printable.text("会議-42 🎙")).toBe("会議-42 🎙")
  })

  it("cuts long values and says how long they were", () => {
    const long = "k".repeat(300)
    expect(Printable.text(long)).toBe(`${"k".repeat(Printable.MAX_LENGTH)}…(300 chars)`)
    expect(Printable.text(long, 10)).toBe("kkkkkkkkkk…(300 chars)")
    expect(Printable.text("k".repeat(Printable.MAX_LENGTH))).toBe("k".repeat(Printable.MAX_LENGTH))
  })
})
