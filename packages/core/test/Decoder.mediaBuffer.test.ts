// A media message is parsed without its buffer, which is then taken from the text: the decoder must give exactly
// what a parse of the whole text gives, on every text, well-formed or not.
import { Decoder, Fixtures, RecallEvent } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as v8 from "node:v8"
import * as vm from "node:vm"

// a full collection on demand, so that the heap measured is what is kept alive
v8.setFlagsFromString("--expose-gc")
const collect = vm.runInNewContext("gc") as () => void

/** What the decoder gave before media buffers were cut out: `JSON.parse` of the whole text, then the checks. */
const reference = (text: string): Either.Either<RecallEvent.RecallEvent, Decoder.DecodeError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return Either.left(
      new Decoder.DecodeError({ reason: "InvalidJson", path: "", issue: (cause as Error).message, bytes: text.length })
    )
  }
  return Decoder.decodeJsonEither(json, text.length)
}

const assertSameAsReference = (text: string) => {
  const actual = Decoder.decodeEither(text)
  const expected = reference(text)
  if (Either.isLeft(expected)) {
    assert.isTrue(Either.isLeft(actual), `expected ${expected.left.message}`)
    if (Either.isLeft(actual)) {
      assert.strictEqual(actual.left.reason, expected.left.reason)
      assert.strictEqual(actual.left.path, expected.left.path)
      // the issue quotes JSON.parse's words for the whole text (cut to MAX_ISSUE_LENGTH)
      if (expected.left.reason === "InvalidJson") {
        assert.strictEqual(actual.left.issue.slice(0, 60), expected.left.issue.slice(0, 60))
      }
    }
  } else {
    assert.isTrue(Either.isRight(actual), Either.isLeft(actual) ? actual.left.message : "")
    if (Either.isRight(actual)) assert.deepStrictEqual(actual.right, expected.right)
  }
}

const participant = Fixtures.participant({ id: 7, name: "Ada" })

/** A media message of each kind, with `buffer` as its buffer. */
const mediaMessages = (buffer: string): ReadonlyArray<any> =>
  [
    Fixtures.audio({ at: 1 }),
    Fixtures.audio({ at: 1, participant, separate: true }),
    Fixtures.video({ participant, at: 2 }),
    Fixtures.video({ participant, at: 2, format: "h264" })
  ].map((message) => {
    const copy = structuredClone(message) as any
    copy.data.data.buffer = buffer
    return copy
  })

// ways a sender may write a message (or break it) that the shortcut must notice
const variations: ReadonlyArray<readonly [string, (text: string, buffer: string, at: number) => string]> = [
  ["as is", (text) => text],
  ["slashes escaped", (text) => text.replaceAll("/", "\\/")],
  ["a space after the colon", (text) => text.replace("\"buffer\":\"", "\"buffer\": \"")],
  ["a copy in the bot's metadata", (text, buffer) => text.replace("\"metadata\":{", `"metadata":{"copy":"${buffer}",`)],
  [
    "a metadata key named buffer before the media's",
    (text) => text.replace("{\"event\":", "{\"pre\":{\"buffer\":\"QUJDRA==\"},\"event\":")
  ],
  [
    "the key written with an escape",
    (text) => text.replace("\"buffer\":\"", "\"\\u0062uffer\":\"")
  ],
  [
    "the media's buffer empty, and the same text under another buffer key before it",
    (text, buffer) =>
      text.replace(`"buffer":"${buffer}"`, "\"buffer\":\"\"").replace(
        "{\"event\":",
        `{"x":{"buffer":"${buffer}"},"event":`
      )
  ],
  [
    "the media's buffer empty under a key written with an escape, and the same text under a buffer key before it",
    (text, buffer) =>
      text.replace(`"buffer":"${buffer}"`, "\"\\u0062uffer\":\"\"").replace(
        "{\"event\":",
        `{"x":{"buffer":"${buffer}"},"event":`
      )
  ],
  ["the buffer one level deeper", (text) => text.replace(/"buffer":"([^"]*)"/, "\"deep\":{\"buffer\":\"$1\"}")],
  [
    "a second buffer key after the first",
    (text) => text.replace(/"buffer":"([^"]*)"/, "\"buffer\":\"$1\",\"buffer\":\"QUJD\"")
  ],
  ["a line break inside the buffer", (text, _buffer, at) => text.slice(0, at) + "\n" + text.slice(at)],
  ["a control character inside the buffer", (text, _buffer, at) => text.slice(0, at) + "\u0001" + text.slice(at)],
  ["a URL-safe character inside the buffer", (text, _buffer, at) => text.slice(0, at) + "-" + text.slice(at + 1)],
  ["padding inside the buffer", (text, _buffer, at) => text.slice(0, at) + "=" + text.slice(at + 1)],
  ["cut short", (text, _buffer, at) => text.slice(0, at + 10)],
  ["a brace missing at the end", (text) => text.slice(0, -1)],
  ["named as a transcript", (text) => text.replace(/"event":"[^"]*"/, "\"event\":\"transcript.data\"")],
  ["named as an unknown event", (text) => text.replace(/"event":"[^"]*"/, "\"event\":\"audio_future.data\"")],
  [
    "the media data an array",
    (text) => text.replace("\"data\":{\"data\":{", "\"data\":{\"data\":[{").replace(/("timestamp":\{[^}]*\})/, "$1]")
  ]
]

/** A media message of any kind, with any buffer, varied by up to `maxVariations` of the variations above. */
const variedMessage = (maxVariations: number) =>
  FastCheck.tuple(
    FastCheck.uint8Array({ minLength: 0, maxLength: 3_000 }),
    FastCheck.nat(3),
    FastCheck.array(FastCheck.nat(variations.length - 1), { maxLength: maxVariations }),
    FastCheck.nat()
  ).map(([bytes, kind, picks, where]) => {
    const buffer = Buffer.from(bytes).toString("base64")
    let text = JSON.stringify(mediaMessages(buffer)[kind])
    const at = text.indexOf(buffer) + (buffer.length === 0 ? 0 : where % buffer.length)
    for (const pick of picks) text = variations[pick]![1](text, buffer, at)
    return text
  })

describe("Decoder: media buffers", () => {
  it("gives what a parse of the whole text gives, for every kind of media message and every variation", () => {
    FastCheck.assert(FastCheck.property(variedMessage(3), assertSameAsReference), { numRuns: 2_000 })
  })

  it("each variation, once, on 100 ms of audio", () => {
    const buffer = Buffer.from(Fixtures.tone(440, 0, 0.1).buffer).toString("base64")
    assert.include(buffer, "/")
    for (const message of mediaMessages(buffer)) {
      const text = JSON.stringify(message)
      for (const [name, vary] of variations) {
        const varied = vary(text, buffer, text.indexOf(buffer) + 100)
        assert.notStrictEqual(varied, name === "as is" ? undefined : text, name)
        assertSameAsReference(varied)
      }
    }
  })

  it("decodeAcceptedEither gives what decodeEither gives, on every text decodeEither accepts", () => {
    let accepted = 0
    FastCheck.assert(
      FastCheck.property(variedMessage(2), (text) => {
        const checked = Decoder.decodeEither(text)
        const trusted = Decoder.decodeAcceptedEither(text)
        if (Either.isRight(checked)) {
          accepted++
          assert.deepStrictEqual(trusted, checked)
        } else if (checked.left.reason === "InvalidJson") {
          assert.isTrue(Either.isLeft(trusted) && trusted.left.reason === "InvalidJson")
        }
      }),
      { numRuns: 1_000 }
    )
    // most runs are messages the decoder accepts (the variations that break one are a minority)
    assert.isAbove(accepted, 300)
  })

  it("decodeAcceptedEither does not check again: it takes the event's shape as it is", () => {
    const text = JSON.stringify(Fixtures.audio({ at: 1 })).replace(/"relative":[0-9.]+/, "\"relative\":\"one\"")
    assert.strictEqual(Either.flip(Decoder.decodeEither(text)).pipe(Either.getOrThrow).reason, "InvalidShape")
    const event = Either.getOrThrow(Decoder.decodeAcceptedEither(text)) as RecallEvent.AudioMixedRaw
    assert.strictEqual(event.event, "audio_mixed_raw.data")
    assert.strictEqual(event.data.data.timestamp.relative as unknown, "one")
  })

  it("keeps a media event's buffer as part of the message's text, not as a copy of its own", () => {
    // 2,000 audio messages of 100 ms, decoded and kept with their texts: a copy of each buffer (4 KB) would add
    // 8 MB of heap; without one, what is kept beyond the texts is the events' small objects
    const samples = Fixtures.tone(440, 0, 0.1)
    const texts = Array.from({ length: 2_000 }, (_, i) => JSON.stringify(Fixtures.audio({ samples, at: i / 10 })))
    collect()
    const before = v8.getHeapStatistics().used_heap_size
    const events = texts.map((text) => Either.getOrThrow(Decoder.decodeEither(text)))
    collect()
    const perEvent = (v8.getHeapStatistics().used_heap_size - before) / events.length
    assert.strictEqual(events.length, texts.length)
    assert.isBelow(perEvent, 2_000, `${Math.round(perEvent)} bytes of heap per event`)
  })
})
