// The ring serve's main thread writes event texts into and its recorder thread reads them from.
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as TextRing from "../src/internal/textRing.js"

const ringOf = (bytes: number) => {
  const memory = new SharedArrayBuffer(bytes)
  return { writer: new TextRing.Writer(memory), reader: new TextRing.Reader(memory) }
}

describe("TextRing", () => {
  it("gives back every text as written, whatever its characters", () => {
    const { reader, writer } = ringOf(1024)
    for (const text of ["{}", "{\"name\":\"Zoë\"}", "🎙 “quoted” – ☃", ""]) {
      const place = writer.write(text)!
      assert.strictEqual(place.length, Buffer.byteLength(text))
      assert.strictEqual(reader.read(place), text)
    }
  })

  it("takes texts of up to a twelfth of its bytes in UTF-16 units", () => {
    const { writer } = ringOf(1200)
    assert.isTrue(writer.fits(100))
    assert.isFalse(writer.fits(101))
  })

  it("has no room until the reader released what it took, and then starts again at the beginning", () => {
    const { reader, writer } = ringOf(120)
    // ten texts of ten bytes; each may take up to 30 (three bytes a unit), so room is asked for 30
    const places = Array.from({ length: 10 }, (_, i) => writer.write(String(i).repeat(10))!)
    assert.deepStrictEqual(places.map((place) => place.offset), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
    // the last 20 bytes are too few: it would start at the beginning, where nothing is released yet
    assert.isUndefined(writer.write("x".repeat(10)))
    writer.release(20)
    // 20 released, 20 to skip, 30 asked: 100 - 20 + 20 + 30 = 130 > 120
    assert.isUndefined(writer.write("x".repeat(10)))
    writer.release(20)
    const wrapped = writer.write("x".repeat(10))!
    assert.strictEqual(wrapped.offset, 0)
    // the skipped end counts as taken until it is released with the text
    assert.strictEqual(writer.lastTaken, 30)
    assert.strictEqual(reader.read(wrapped), "x".repeat(10))
    assert.strictEqual(reader.read(places[9]!), "9".repeat(10))
  })

  it("writes from the beginning again whenever nothing waits, so a reader that keeps up uses only its start", () => {
    const { reader, writer } = ringOf(1024)
    for (let i = 0; i < 100; i++) {
      const place = writer.write(`{"n":${i}}`)!
      assert.strictEqual(place.offset, 0)
      assert.strictEqual(reader.read(place), `{"n":${i}}`)
      writer.release(writer.lastTaken)
    }
    writer.write("first")
    assert.strictEqual(writer.write("second")!.offset, 5)
  })

  it("never writes over a text the reader has not released (texts taken in order, released in batches)", () => {
    let full = 0
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(
          FastCheck.record({
            text: FastCheck.string({ minLength: 1, maxLength: 20, unit: "grapheme" }),
            // on average a little less than one taken per text written: what waits grows until the ring is full
            release: FastCheck.constantFrom(0, 0, 1, 1, 2)
          }),
          { minLength: 100, maxLength: 300 }
        ),
        (steps) => {
          const { reader, writer } = ringOf(256)
          const waiting: Array<{ place: TextRing.Place; text: string; taken: number }> = []
          const take = (count: number) => {
            for (const { place, taken, text } of waiting.splice(0, count)) {
              assert.strictEqual(reader.read(place), text)
              writer.release(taken)
            }
          }
          for (const { release, text } of steps) {
            if (!writer.fits(text.length)) continue
            let place = writer.write(text)
            // no room: the reader takes what waits until there is
            while (place === undefined) {
              full++
              assert.isAbove(waiting.length, 0, "no room in a ring with nothing in it")
              take(1)
              place = writer.write(text)
            }
            waiting.push({ place, text, taken: writer.lastTaken })
            take(release)
          }
          take(waiting.length)
        }
      ),
      { numRuns: 200 }
    )
    // the property was tried where it matters
    assert.isAbove(full, 100)
  })
})
