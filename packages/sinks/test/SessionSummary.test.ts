import { EventSource, type RecallEvent, SessionEvent, SessionKey } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import * as SessionRecorder from "../src/SessionRecorder.js"
import * as SessionSummary from "../src/SessionSummary.js"
import { decode } from "./helpers.js"
import { json, tempDir } from "./recording.js"

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

  it("ends the meeting and its run at a SessionEnded, but not at a handover, which only moves it elsewhere", () => {
    const session = SessionKey.make("bot-1")
    const started = SessionSummary.reduce(
      SessionSummary.empty(session),
      new SessionEvent.SessionStarted({ session, at: 0, botId: "bot-1", recordingId: null, metadata: null })
    )
    const handedOver = SessionSummary.reduce(
      started,
      new SessionEvent.SessionEnded({ session, at: 5_000, reason: "handover" })
    )
    assert.strictEqual(handedOver, started)
    const ended = SessionSummary.reduce(
      handedOver,
      new SessionEvent.SessionEnded({ session, at: 9_000, reason: "timeout" })
    )
    assert.strictEqual(ended.endReason, "timeout")
    assert.strictEqual(ended.runs.at(-1)!.endReason, "timeout")
    assert.strictEqual(ended.runs.length, 1)
  })
})

const TRAPS = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "__defineGetter__"]

const unknownEvent = (name: string, botId = "bot-1") =>
  decode({ event: name, data: { bot: { id: botId, metadata: {} }, recording: { id: "r" }, data: {} } })

const messages = (session: SessionKey.SessionKey, names: ReadonlyArray<string>) =>
  names.map((name, i) => SessionEvent.message(session, unknownEvent(name, session), i))

/** session.json written and read back, as a restarted recorder does. */
const restored = (summary: SessionSummary.SessionSummary) => {
  const decoded = SessionSummary.fromJson(JSON.parse(JSON.stringify(summary)))
  if (Either.isLeft(decoded)) assert.fail(`session.json does not read back: ${String(decoded.left)}`)
  return decoded.right
}

describe("SessionSummary with event names that are also names of Object.prototype", () => {
  const session = SessionKey.make("bot-1")
  // each trap name i + 1 times, and a known event in between
  const names = TRAPS.flatMap((name, i) => Array.from({ length: i + 1 }, () => name))
  const expected = Object.fromEntries(TRAPS.map((name, i) => [name, i + 1]))

  it("counts each of them exactly, in byEvent and in the unknown events", () => {
    const summary = messages(session, names).reduce(SessionSummary.reduce, SessionSummary.empty(session))
    assert.strictEqual(summary.counts.messages, names.length)
    for (const name of TRAPS) {
      assert.isTrue(Object.hasOwn(summary.counts.unknownEvents, name), name)
      assert.strictEqual(summary.counts.unknownEvents[name], expected[name], name)
      assert.strictEqual(summary.counts.byEvent[name], expected[name], name)
    }
    // what session.json says
    const json = JSON.parse(JSON.stringify(summary))
    assert.deepStrictEqual(json.counts.unknownEvents, expected)
    assert.deepStrictEqual(Object.keys(json.counts.byEvent).sort(), [...TRAPS].sort())
  })

  it("reads them back from session.json and goes on counting after a restart", () => {
    const before = messages(session, names).reduce(SessionSummary.reduce, SessionSummary.empty(session))
    const after = messages(session, TRAPS).reduce(SessionSummary.reduce, restored(before))
    for (const name of TRAPS) {
      assert.strictEqual(after.counts.unknownEvents[name], expected[name]! + 1, name)
      assert.strictEqual(after.counts.byEvent[name], expected[name]! + 1, name)
    }
    assert.strictEqual(after.counts.messages, names.length + TRAPS.length)
  })

  it("reads the bot's metadata back from session.json whatever its keys, setting no prototype", () => {
    const saved = JSON.parse(JSON.stringify(SessionSummary.empty(session)))
    saved.metadata = JSON.parse(`{"__proto__":{"polluted":true},"constructor":"c","customer":"acme"}`)
    const summary = restored(saved)
    assert.deepStrictEqual(Object.keys(summary.metadata!), ["__proto__", "constructor", "customer"])
    assert.deepStrictEqual(summary.metadata!["__proto__"], { polluted: true })
    assert.isUndefined((summary.metadata as { polluted?: unknown }).polluted, "no prototype was set")
    assert.strictEqual(JSON.stringify(restored(summary).metadata), JSON.stringify(saved.metadata))
  })

  it("lists at most UNKNOWN_EVENT_LIMIT unknown names and counts the messages of the others", () => {
    const limit = SessionSummary.UNKNOWN_EVENT_LIMIT
    const many = Array.from({ length: limit + 50 }, (_, i) => `custom.event_${i}`)
    const tooLong = "x".repeat(SessionSummary.NAME_LENGTH_LIMIT + 1)
    // the first name again after the limit was reached still counts under its own name
    const stream = [...many, tooLong, many[0]!, many[limit + 10]!]
    const summary = restored(messages(session, stream).reduce(SessionSummary.reduce, SessionSummary.empty(session)))
    assert.strictEqual(Object.keys(summary.counts.unknownEvents).length, limit)
    assert.strictEqual(summary.counts.unknownEvents[many[0]!], 2)
    assert.isUndefined(summary.counts.unknownEvents[many[limit]!])
    assert.isUndefined(summary.counts.byEvent[tooLong])
    assert.strictEqual(summary.counts.unlistedUnknownEvents, 50 + 1 + 1)
    assert.strictEqual(summary.counts.messages, stream.length)
    const listed = Object.values(summary.counts.byEvent).reduce((n, c) => n + c, 0)
    assert.strictEqual(listed + summary.counts.unlistedUnknownEvents, summary.counts.messages)
  })

  it("reads a session.json written before unlisted names were counted", () => {
    const old = JSON.parse(JSON.stringify(SessionSummary.empty(session)))
    delete old.counts.unlistedUnknownEvents
    assert.strictEqual(restored(old).counts.unlistedUnknownEvents, 0)
  })

  it("through the recorder: session.json counts them exactly across a restart", async () => {
    const out = tempDir()
    const record = (events: ReadonlyArray<RecallEvent.RecallEvent>) =>
      SessionRecorder.run({ directory: out }).pipe(
        Effect.provide(Layer.mergeAll(EventSource.fromIterable(events), NodeContext.layer)),
        Effect.runPromise
      )
    await record(names.map((name) => unknownEvent(name)))
    await record(TRAPS.map((name) => unknownEvent(name)))
    const saved = json(path.join(out, "bot-1", "session.json"))
    assert.strictEqual(saved.runs.length, 2)
    assert.strictEqual(saved.counts.messages, names.length + TRAPS.length)
    assert.deepStrictEqual(saved.counts.unknownEvents, Object.fromEntries(TRAPS.map((name, i) => [name, i + 2])))
  })
})
