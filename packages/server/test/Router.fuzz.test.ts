import { Decoder, SessionEvent, SessionKey } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type Frame, garbage, randomBytes, randomJson, scenario } from "./frames.js"
import { makeHarness, settled } from "./router.js"

const isControl = Schema.is(SessionEvent.ControlEvent)

type Expected = "messages" | "decodeFailed" | "unroutable"

/**
 * What a frame must become, worked out from the decoder alone: a frame that decodes and names a session (or comes
 * on a connection that has one) is a message; one that does not decode, or whose key no source accepts, is a
 * `DecodeFailed` for the connection's session; anything without a session to go to is unroutable.
 */
const expectedOutcome = (frame: Frame, lastKey: string | undefined): { outcome: Expected; key?: string } => {
  const decoded = Decoder.decodeEither(frame.data.toString("utf8"))
  const key = Either.isRight(decoded) ? Option.getOrUndefined(SessionKey.fromEvent(decoded.right)) : undefined
  if (Either.isLeft(decoded) || (key !== undefined && key.length > SessionKey.MAX_LENGTH)) {
    return { outcome: lastKey === undefined ? "unroutable" : "decodeFailed" }
  }
  if (key !== undefined) return { outcome: "messages", key }
  return { outcome: lastKey === undefined ? "unroutable" : "messages" }
}

const freshBot = FastCheck.uuid().map((id) => `bot-${id}`)

describe("the frame path, fuzzed through the router", () => {
  it("every frame has exactly one outcome, the one the decoder calls for, and valid meetings arrive whole", () => {
    FastCheck.assert(
      FastCheck.property(scenario(freshBot), (run) => {
        // a consumer that keeps up, so nothing is shed and the outcome is the decoder's call alone
        const h = makeHarness({ maxSessionsPerConnection: 1_000 })
        const { connection } = h.connect()
        let lastKey: string | undefined
        const delivered = new Map<string, Array<SessionEvent.SessionEvent>>()
        const wrong: Array<string> = []
        for (const frame of run.frames) {
          const expected = expectedOutcome(frame, lastKey)
          const total = settled(h.router.outcomes)
          const count = h.router.outcomes[expected.outcome]
          h.router.frame(connection, frame.data)
          if (settled(h.router.outcomes) !== total + 1 || h.router.outcomes[expected.outcome] !== count + 1) {
            wrong.push(
              `${frame.kind} frame, expected ${expected.outcome}: ${frame.data.toString("utf8").slice(0, 200)}`
            )
          }
          if (expected.key !== undefined) lastKey = expected.key
          for (const [key, items] of h.take()) {
            const list = delivered.get(key)
            if (list === undefined) delivered.set(key, items)
            else list.push(...items)
          }
        }
        assert.deepStrictEqual(wrong, [], "each frame has exactly one outcome, the expected one")
        assert.strictEqual(h.router.outcomes.defects, 0)
        assert.strictEqual(h.router.outcomes.frames, run.frames.length)
        // every valid message of the meeting reached its session, in order, byte for byte
        const raws = (delivered.get(run.botId) ?? []).flatMap((item) => item._tag === "Message" ? [item.raw] : [])
        let next = 0
        for (const raw of raws) if (raw === run.meeting[next]) next++
        assert.strictEqual(next, run.meeting.length, "the meeting arrived whole")
        // what consumers got is what was counted, every control event is valid, and the accounting is back to 0
        const all = [...delivered.values()].flat()
        assert.strictEqual(all.filter((i) => i._tag === "Message").length, h.router.outcomes.messages)
        assert.strictEqual(all.filter((i) => i._tag === "DecodeFailed").length, h.router.outcomes.decodeFailed)
        for (const item of all) if (item._tag !== "Message") assert.isTrue(isControl(item), item._tag)
        assert.deepStrictEqual([h.router.flow.queued, h.router.flow.queuedBytes], [0, 0])
      }),
      { numRuns: 1_200 }
    )
  })

  it("garbage as the first frame of a fresh connection, and as the first of a fresh session on a busy one", () => {
    FastCheck.assert(
      FastCheck.property(
        freshBot.chain((bot) =>
          FastCheck.tuple(FastCheck.constant(bot), FastCheck.array(garbage(bot), { minLength: 1, maxLength: 4 }))
        ),
        ([bot, junk]) => {
          const h = makeHarness()
          const fresh = h.connect()
          const busy = h.connect()
          h.router.frame(
            busy.connection,
            Buffer.from(JSON.stringify({ event: "x", data: { bot: { id: `${bot}-other` } } }))
          )
          for (const frame of junk) {
            for (const { connection } of [fresh, busy]) {
              const before = settled(h.router.outcomes)
              h.router.frame(connection, frame.data)
              assert.strictEqual(settled(h.router.outcomes) - before, 1)
            }
          }
          assert.strictEqual(h.router.outcomes.defects, 0)
          for (const items of h.take().values()) {
            assert.strictEqual(items[0]!._tag, "SessionStarted")
            for (const item of items) if (item._tag !== "Message") assert.isTrue(isControl(item), item._tag)
          }
        }
      ),
      { numRuns: 1_000 }
    )
  })

  it("random JSON and random bytes on several connections: one outcome each, never a defect", () => {
    const frame = FastCheck.oneof(
      randomJson.map((s) => Buffer.from(s)),
      randomBytes
    )
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(FastCheck.tuple(FastCheck.nat({ max: 2 }), frame), { maxLength: 30 }),
        (frames) => {
          const h = makeHarness()
          const connections = [h.connect(), h.connect(), h.connect()]
          for (const [c, data] of frames) h.router.frame(connections[c]!.connection, data)
          assert.strictEqual(settled(h.router.outcomes), frames.length)
          assert.strictEqual(h.router.outcomes.defects, 0)
        }
      ),
      { numRuns: 1_000 }
    )
  })
})
