import { Fixtures, type SessionEvent } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import { makeHarness, settled } from "./router.js"

const frame = (message: unknown) => Buffer.from(JSON.stringify(message))

describe("the router's last line of defence", () => {
  it("a frame whose handling throws before any outcome becomes an InternalError DecodeFailed, and the rest goes on", () => {
    const h = makeHarness()
    const { connection } = h.connect()
    h.router.frame(connection, frame(Fixtures.transcript("first")))
    // the clock fails once, in the middle of the next frame
    const now = h.hooks.now
    let failures = 1
    h.hooks.now = () => {
      if (failures-- > 0) throw new Error("clock \n broken")
      return now()
    }
    h.router.frame(connection, frame(Fixtures.transcript("lost to the failure")))
    h.router.frame(connection, frame(Fixtures.transcript("after")))
    assert.strictEqual(h.router.outcomes.defects, 1)
    assert.strictEqual(settled(h.router.outcomes), 3)
    const items = h.take().get(Fixtures.BOT_ID)!
    const tags = items.map((item) => item._tag)
    assert.deepStrictEqual(tags, ["SessionStarted", "ConnectionOpened", "Message", "DecodeFailed", "Message"])
    const failed = items[3] as SessionEvent.DecodeFailed
    assert.strictEqual(failed.error.reason, "InternalError")
    assert.include(failed.error.issue, "clock")
    const logged = h.logs.find((line) => line.level === "Error")!
    assert.strictEqual(logged.message, "Unexpected failure while handling a frame")
  })

  it("a failure after the frame's outcome (a socket that throws on pause) adds no second outcome", () => {
    const h = makeHarness({ bufferSize: 2 })
    const { connection, socket } = h.connect()
    socket.pause = () => {
      throw new Error("pause failed")
    }
    for (let i = 0; i < 4; i++) h.router.frame(connection, frame(Fixtures.transcript(`m${i}`)))
    // the buffer filled at the first message: pausing failed for it, and it was tried once only
    assert.deepStrictEqual(
      [h.router.outcomes.messages, h.router.outcomes.defects, settled(h.router.outcomes)],
      [4, 1, 4]
    )
    const messages = h.take().get(Fixtures.BOT_ID)!.filter((item) => item._tag === "Message")
    assert.strictEqual(messages.length, 4)
  })
})

describe("accounting", () => {
  it("bytes and events held go back to zero once consumers took everything, sessions ended included", () => {
    const h = makeHarness({ sessionTimeoutMs: 100 })
    const a = h.connect()
    const b = h.connect()
    for (let i = 0; i < 50; i++) {
      h.router.frame(a.connection, frame(Fixtures.audio({ at: i / 10 })))
      h.router.frame(b.connection, frame(Fixtures.transcript(`t${i}`, { botId: "bot-b", at: i })))
      h.router.frame(b.connection, Buffer.from("{not json"))
    }
    assert.isAbove(h.router.flow.queuedBytes, 50 * 4000)
    h.router.closed(a.connection, 1000, "", false)
    h.advance(100)
    assert.strictEqual(h.router.sessions.size, 1)
    h.take()
    assert.deepStrictEqual([h.router.flow.queued, h.router.flow.queuedBytes], [0, 0])
  })

  it("a connection that closes while paused no longer counts as paused", () => {
    const h = makeHarness({ bufferSize: 4, memoryBudget: 64 * 1024 })
    const full = h.connect()
    const budget = h.connect()
    for (let i = 0; i < 8; i++) h.router.frame(full.connection, frame(Fixtures.transcript(`m${i}`)))
    h.router.frame(budget.connection, frame(Fixtures.transcript("x".repeat(70_000), { botId: "bot-big" })))
    assert.deepStrictEqual([full.socket.paused, budget.socket.paused, h.router.flow.pausedConnections], [true, true, 2])
    h.router.closed(full.connection, 1006, "", false)
    h.router.closed(budget.connection, 1006, "", false)
    assert.strictEqual(h.router.flow.pausedConnections, 0)
    // and nothing resumes a socket that is gone
    assert.deepStrictEqual([full.socket.paused, budget.socket.paused], [true, true])
  })
})
