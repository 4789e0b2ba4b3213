// SessionKey.hash: the FNV-1a hash partitions and recorders rely on being the same everywhere.
import { SessionKey } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"

describe("SessionKey.hash", () => {
  it("is 32-bit FNV-1a (the reference values of its specification, for ASCII keys)", () => {
    assert.strictEqual(SessionKey.hash(""), 0x811c9dc5)
    assert.strictEqual(SessionKey.hash("a"), 0xe40c292c)
    assert.strictEqual(SessionKey.hash("foobar"), 0xbf9cf968)
  })

  it("hashes UTF-16 code units: a key outside ASCII has a value of its own, always an unsigned 32-bit integer", () => {
    const values = ["bot-é", "bot-e", "bot-😀", "bot-\u0000"].map(SessionKey.hash)
    assert.strictEqual(new Set(values).size, values.length)
    for (const value of values) assert.isTrue(Number.isInteger(value) && value >= 0 && value < 2 ** 32)
  })
})
