import { Decoder, Fixtures, Media } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"

// what the media decoder accepted before it stopped scanning every buffer with a regular expression
const paddedBase64 = (s: string): boolean => s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s)

const chunkWith = (buffer: string) => {
  const decoded = Decoder.decodeEither(JSON.stringify(Fixtures.audio({ buffer })))
  if (Either.isLeft(decoded) || decoded.right.event !== "audio_mixed_raw.data") throw new Error("fixture")
  return decoded.right
}

// text that is mostly base64, with the characters that trip decoders mixed in
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
const almostBase64 = FastCheck.oneof(
  FastCheck.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString("base64")),
  FastCheck.array(
    FastCheck.oneof(
      { weight: 20, arbitrary: FastCheck.constantFrom(...ALPHABET) },
      { weight: 1, arbitrary: FastCheck.constantFrom("=", "-", "_", " ", "\n", "$", ".", "é", "\u0000") }
    ),
    { maxLength: 40 }
  ).map((chars) => chars.join("")),
  FastCheck.uint8Array({ minLength: 1, maxLength: 64 }).chain((bytes) => {
    const good = Buffer.from(bytes).toString("base64")
    return FastCheck.record({
      at: FastCheck.nat({ max: good.length - 1 }),
      junk: FastCheck.constantFrom("=", "-", "_", " ", "*", "A")
    }).map(({ at, junk }) => good.slice(0, at) + junk + good.slice(at + 1))
  })
)

describe("Media.bytes on base64 buffers", () => {
  it("accepts exactly the padded standard base64 a full scan accepts, and decodes it the same", () => {
    FastCheck.assert(
      FastCheck.property(almostBase64, (buffer) => {
        const result = Media.bytes(chunkWith(buffer))
        if (paddedBase64(buffer)) {
          assert.isTrue(Either.isRight(result), buffer)
          assert.deepStrictEqual(
            Array.from(Either.getOrThrow(result)),
            Array.from(Buffer.from(buffer, "base64")),
            buffer
          )
        } else {
          assert.isTrue(Either.isLeft(result) && result.left.reason === "InvalidBase64", buffer)
        }
      }),
      { numRuns: 3000 }
    )
  })
})
