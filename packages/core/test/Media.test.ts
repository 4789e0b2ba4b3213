import { Audio, Decoder, Fixtures, Media, RecallEvent, Video } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"

const decode = <N extends RecallEvent.EventName>(name: N, message: unknown): RecallEvent.EventOf<N> => {
  const result = Decoder.decodeEither(JSON.stringify(message))
  if (Either.isLeft(result)) assert.fail(result.left.message)
  assert.strictEqual(result.right.event, name)
  return result.right as RecallEvent.EventOf<N>
}

describe("Audio", () => {
  it("decodes S16LE PCM to samples, with duration from the base64 length", () => {
    const tone = Fixtures.tone(440, 1, 0.1)
    const chunk = decode("audio_mixed_raw.data", Fixtures.audio({ samples: tone, at: 1 }))
    const samples = Either.getOrThrow(Audio.pcm(chunk))
    assert.strictEqual(samples.length, 1600)
    assert.deepStrictEqual(Array.from(samples.slice(0, 50)), Array.from(tone.slice(0, 50)))
    assert.strictEqual(Audio.durationOf(chunk), 0.1)
    assert.closeTo(Audio.endOf(chunk), 1.1, 1e-9)
  })

  it("decodes a buffer once per message, however often it is asked", () => {
    const chunk = decode("audio_separate_raw.data", Fixtures.audio({ separate: true, samples: [1, -2, 3] }))
    const first = Either.getOrThrow(Media.bytes(chunk))
    const second = Either.getOrThrow(Media.bytes(chunk))
    assert.strictEqual(first, second)
    assert.deepStrictEqual(Array.from(Either.getOrThrow(Audio.pcm(chunk))), [1, -2, 3])
  })

  it("pcmInto decodes into a scratch buffer what pcm decodes, and takes pcm's path for what does not fit or decode", () => {
    const scratch = Buffer.alloc(4096)
    const tone = Fixtures.tone(440, 1, 0.1)
    const chunk = decode("audio_mixed_raw.data", Fixtures.audio({ samples: tone, at: 1 }))
    const samples = Either.getOrThrow(Audio.pcmInto(chunk, scratch))
    assert.deepStrictEqual(Array.from(samples), Array.from(Either.getOrThrow(Audio.pcm(chunk))))
    // a view of the scratch buffer, not a buffer of its own
    assert.strictEqual(samples.buffer, scratch.buffer)
    // too large for the scratch: decoded on its own
    const long = decode("audio_mixed_raw.data", Fixtures.audio({ samples: Fixtures.tone(440, 0, 0.5) }))
    const own = Either.getOrThrow(Audio.pcmInto(long, scratch))
    assert.strictEqual(own.length, 8000)
    assert.notStrictEqual(own.buffer, scratch.buffer)
    // what pcm refuses, pcmInto refuses the same way
    const good = Fixtures.pcmBase64(Fixtures.tone(330, 0, 0.01))
    for (const buffer of [good.slice(0, -1), "abc$", "=AAA", good.replace(/\+/g, "-"), "AQID"]) {
      const bad = decode("audio_mixed_raw.data", Fixtures.audio({ buffer }))
      const into = Audio.pcmInto(bad, scratch)
      const alone = Audio.pcm(bad)
      assert.isTrue(Either.isLeft(into) && Either.isLeft(alone) && into.left.reason === alone.left.reason, buffer)
    }
  })

  it("takes an empty buffer as no samples", () => {
    const chunk = decode("audio_separate_raw.data", Fixtures.audio({ separate: true, buffer: "" }))
    assert.strictEqual(Either.getOrThrow(Audio.pcm(chunk)).length, 0)
    assert.strictEqual(Audio.durationOf(chunk), 0)
  })

  it("reads samples from bytes at an odd offset", () => {
    const backing = new Uint8Array([0, 0x34, 0x12, 0xff, 0xff])
    assert.deepStrictEqual(Array.from(Audio.samplesOf(backing.subarray(1))), [0x1234, -1])
  })

  it("gives OddByteCount for PCM that is not whole samples", () =>
    Effect.gen(function*() {
      const chunk = decode(
        "audio_mixed_raw.data",
        Fixtures.audio({ buffer: Buffer.from([1, 2, 3]).toString("base64") })
      )
      const error = yield* Effect.flip(Audio.pcm(chunk))
      assert.strictEqual(error._tag, "MediaError")
      assert.strictEqual(error.reason, "OddByteCount")
      assert.include(error.message, "3 bytes")
    }).pipe(Effect.runSync))

  it("gives InvalidBase64 for a truncated or corrupted buffer", () => {
    const good = Fixtures.pcmBase64(Fixtures.tone(330, 0, 0.01))
    for (const buffer of [good.slice(0, -1), good.slice(0, -2), "abc$", "=AAA"]) {
      const chunk = decode("audio_mixed_raw.data", Fixtures.audio({ buffer }))
      const result = Audio.pcm(chunk)
      assert.isTrue(Either.isLeft(result) && result.left.reason === "InvalidBase64", buffer)
    }
  })
})

describe("Video", () => {
  it("reads a PNG's size from its header", () => {
    const frame = decode("video_separate_png.data", Fixtures.video())
    const { bytes, size } = Either.getOrThrow(Video.png(frame))
    assert.deepStrictEqual(size, { width: 1, height: 1 })
    assert.isTrue(Video.isPng(bytes))
  })

  it("gives NotPng for a frame that is not a PNG", () => {
    const frame = decode(
      "video_separate_png.data",
      Fixtures.video({ buffer: Buffer.from("GIF89a....").toString("base64") })
    )
    const result = Video.png(frame)
    assert.isTrue(Either.isLeft(result) && result.left.reason === "NotPng")
  })

  it("keeps H.264 payloads as bytes", () => {
    const frame = decode("video_separate_h264.data", Fixtures.video({ format: "h264" }))
    const bytes = Either.getOrThrow(Video.bytes(frame))
    assert.deepStrictEqual(Array.from(bytes.slice(0, 4)), [0, 0, 0, 1])
  })
})
