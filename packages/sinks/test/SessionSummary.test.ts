import { SessionEvent, SessionKey } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as SessionSummary from "../src/SessionSummary.js"

describe("SessionSummary", () => {
  it("lists connections up to a limit, making room by forgetting the oldest closed ones", () => {
    const session = SessionKey.make("bot-1")
    let summary = SessionSummary.empty(session)
    // one connection stays open all along (mixed audio); per-participant ones come and go
    summary = SessionSummary.reduce(
      summary,
      new SessionEvent.ConnectionOpened({ session, at: 0, connectionId: "main" })
    )
    const churn = SessionSummary.CONNECTION_LIMIT + 50
    for (let i = 0; i < churn; i++) {
      const connectionId = `c${i}`
      summary = SessionSummary.reduce(summary, new SessionEvent.ConnectionOpened({ session, at: i, connectionId }))
      summary = SessionSummary.reduce(
        summary,
        new SessionEvent.ConnectionClosed({ session, at: i + 0.5, connectionId, code: 1000, reason: "muted" })
      )
    }
    assert.strictEqual(summary.connections.length, SessionSummary.CONNECTION_LIMIT)
    assert.strictEqual(summary.connections[0]!.connectionId, "main")
    assert.isNull(summary.connections[0]!.closedAt)
    const last = summary.connections[summary.connections.length - 1]!
    assert.strictEqual(last.connectionId, `c${churn - 1}`)
    assert.strictEqual(last.code, 1000)
  })
})
