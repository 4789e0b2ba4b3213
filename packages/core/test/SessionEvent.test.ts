import { Decoder, Fixtures, type RecallEvent, SessionEvent, SessionKey } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

const decoded = (frame: string): RecallEvent.RecallEvent => Either.getOrThrow(Decoder.decodeEither(frame))

const isStarted = Schema.is(SessionEvent.SessionStarted)

/** startedBy for the session a frame names, the way a source calls it. */
const startedOf = (frame: string): SessionEvent.SessionStarted => {
  const event = decoded(frame)
  const key = Option.getOrThrow(SessionKey.fromEvent(event))
  return SessionEvent.startedBy(key, event, 1_000)
}

describe("SessionEvent.startedBy", () => {
  it("reads ids and metadata from a valid envelope", () => {
    const started = startedOf(JSON.stringify(Fixtures.transcript("hello", { botId: "bot-a", recordingId: "rec-a" })))
    assert.strictEqual(started.session, "bot-a")
    assert.strictEqual(started.botId, "bot-a")
    assert.strictEqual(started.recordingId, "rec-a")
    assert.strictEqual(started.at, 1_000)
  })

  // the two frames that took the server down: an unknown event's envelope is never checked by a schema
  it("metadata that is not an object is passed over, not thrown", () => {
    const started = startedOf("{\"event\":\"whatever\",\"data\":{\"bot\":{\"id\":\"x\",\"metadata\":5}}}")
    assert.deepStrictEqual(
      [started.session, started.botId, started.recordingId, started.metadata],
      ["x", "x", null, null]
    )
  })

  it("a metadata key named __proto__ stays a key: nothing shows through as inherited, and it survives encoding", () => {
    const frame = JSON.stringify(Fixtures.transcript("hello", { botId: "bot-p" })).replace(
      "\"bot\":{\"id\":\"bot-p\",\"metadata\":{}",
      "\"bot\":{\"id\":\"bot-p\",\"metadata\":{\"__proto__\":{\"polluted\":true},\"team\":\"sales\"}"
    )
    const started = startedOf(frame)
    const metadata = started.metadata as Record<string, unknown>
    assert.strictEqual(Object.getPrototypeOf(metadata), Object.prototype)
    assert.strictEqual(metadata.polluted, undefined)
    assert.deepStrictEqual(Object.keys(metadata).sort(), ["__proto__", "team"])
    const json = Schema.encodeSync(Schema.parseJson(SessionEvent.SessionStarted))(started)
    const back = Schema.decodeSync(Schema.parseJson(SessionEvent.SessionStarted))(json)
    assert.deepStrictEqual(Object.keys(back.metadata as object).sort(), ["__proto__", "team"])
    assert.strictEqual((back.metadata as Record<string, unknown>).polluted, undefined)
  })

  it("an id that is not a string reads as null; the key comes from the recording", () => {
    const started = startedOf("{\"event\":\"whatever\",\"data\":{\"bot\":{\"id\":7},\"recording\":{\"id\":\"r2\"}}}")
    assert.deepStrictEqual([started.session, started.botId, started.recordingId], ["r2", null, "r2"])
  })

  it("the bot's metadata, else the recording's when the bot's is not usable", () => {
    const started = startedOf(
      "{\"event\":\"whatever\",\"data\":{\"bot\":{\"id\":\"b\",\"metadata\":[1]},\"recording\":{\"id\":\"r\",\"metadata\":{\"team\":\"red\"}}}}"
    )
    assert.deepStrictEqual(started.metadata, { team: "red" })
  })

  it("is total: any envelope body of an unknown event gives a valid SessionStarted", () => {
    const ref = FastCheck.record({ id: FastCheck.jsonValue(), metadata: FastCheck.jsonValue() }, {
      requiredKeys: []
    })
    const body = FastCheck.oneof(
      FastCheck.jsonValue(),
      FastCheck.record({
        bot: FastCheck.oneof(ref, FastCheck.jsonValue()),
        recording: FastCheck.oneof(ref, FastCheck.jsonValue())
      }, {
        requiredKeys: []
      })
    )
    FastCheck.assert(
      FastCheck.property(body, FastCheck.string({ minLength: 1 }), (data, fallback) => {
        const event: RecallEvent.RecallEvent = { event: "unknown", name: "x", data }
        const key = Option.getOrElse(SessionKey.fromEvent(event), () => SessionKey.make(fallback))
        const started = SessionEvent.startedBy(key, event, 0)
        assert.isTrue(isStarted(started))
        // the ids agree with the key the source routed by
        const { botId, recordingId } = SessionKey.idsOf(data)
        assert.strictEqual(started.botId, botId)
        assert.strictEqual(started.recordingId, recordingId)
        if (Option.isSome(SessionKey.fromEvent(event))) assert.strictEqual(key, botId ?? recordingId)
      }),
      { numRuns: 2000 }
    )
  })
})
