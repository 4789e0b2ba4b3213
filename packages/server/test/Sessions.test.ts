import { Fixtures, type SessionEvent, SessionKey } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { WebSocket } from "ws"
import { RecallSimulator } from "../src/index.js"
import {
  closeCode,
  collect,
  eventually,
  fast,
  get,
  messages,
  ofTag,
  openClient,
  rawClient,
  realSleep,
  sample,
  startServer
} from "./helpers.js"

// a short meeting: one message every 100 ms of meeting time, alternating audio and transcript
const meeting = (count: number, origin: Fixtures.Origin = {}) =>
  Array.from({ length: count }, (_, i) => {
    const at = i / 10
    return {
      at,
      // a final is sent as its last word ends
      message: i % 2 === 0
        ? Fixtures.audio({ ...origin, at })
        : Fixtures.transcript(`word ${i}`, { ...origin, at, duration: 0 })
    }
  })

describe("sessions outlive connections", () => {
  it.live("a drop and a reconnect within the timeout continue one session, with a Gap", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ sessionTimeout: "3 seconds" })
      const out = yield* collect(server.events)
      const entries = meeting(30)
      const result = yield* RecallSimulator.replay(entries, {
        url: server.address.url,
        ...fast,
        drops: [{ atIndex: 10, lose: 5 }]
      })
      assert.strictEqual(result.lost, 5)
      assert.strictEqual(result.connections, 2)
      yield* shutdown
      yield* out.join
      assert.strictEqual(ofTag(out.items, "SessionStarted").length, 1)
      assert.strictEqual(messages(out.items).length, 25)
      const gaps = ofTag(out.items, "Gap")
      assert.strictEqual(gaps.length, 1)
      // the last time seen before the drop (message 9) to the first after it (message 15)
      assert.closeTo(gaps[0]!.from, 0.9, 1e-9)
      assert.closeTo(gaps[0]!.to, 1.5, 1e-9)
      const closed = ofTag(out.items, "ConnectionClosed")
      assert.strictEqual(closed[0]!.code, 1006)
      // the Gap comes right before the message that ended it
      const items = out.items
      const gapAt = items.findIndex((item) => item._tag === "Gap")
      const next = items[gapAt + 1]
      assert.isTrue(next?._tag === "Message" && next.event.event === "transcript.data")
      assert.deepStrictEqual(ofTag(out.items, "SessionEnded").map((e) => e.reason), ["shutdown"])
    }))

  it.live("a late transcript final after a reconnect does not end the gap early", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ sessionTimeout: "3 seconds" })
      const out = yield* collect(server.events)
      const before = Array.from({ length: 10 }, (_, i) => ({ at: i / 10, message: Fixtures.audio({ at: i / 10 }) }))
      const after = [
        // sent after the reconnect, but about speech from 0.2 s to 0.5 s, before the drop
        { at: 3, message: Fixtures.transcript("said before the drop", { at: 0.2, duration: 0.3 }) },
        { at: 3, message: Fixtures.audio({ at: 3 }) }
      ]
      yield* RecallSimulator.replay([...before, ...after], {
        url: server.address.url,
        ...fast,
        drops: [{ atIndex: 10 }]
      })
      yield* shutdown
      yield* out.join
      const gaps = ofTag(out.items, "Gap")
      assert.strictEqual(gaps.length, 1)
      // from the end of the last 100 ms chunk before the drop (0.9 + 0.1) to the audio at 3 s
      assert.closeTo(gaps[0]!.from, 1, 1e-9)
      assert.closeTo(gaps[0]!.to, 3, 1e-9)
    }))

  it.live("after the timeout the session ends, and a later message opens a new one", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ sessionTimeout: "200 millis" })
      const sessions: Array<{ key: string; items: Array<SessionEvent.SessionEvent> }> = []
      yield* server.sessions.pipe(
        Stream.runForEach((session) =>
          Effect.sync(() => {
            const entry = { key: session.key, items: [] as Array<SessionEvent.SessionEvent> }
            sessions.push(entry)
            return entry
          }).pipe(
            Effect.flatMap((entry) =>
              Effect.forkDaemon(Stream.runForEach(session.events, (item) => Effect.sync(() => entry.items.push(item))))
            )
          )
        ),
        Effect.fork
      )
      yield* RecallSimulator.replay(meeting(6), { url: server.address.url, ...fast })
      yield* eventually(() => sessions[0]?.items.some((item) => item._tag === "SessionEnded") ?? false)
      yield* RecallSimulator.replay(meeting(4), { url: server.address.url, ...fast })
      yield* eventually(() => sessions.length === 2 && sessions[1]!.items.length >= 6)
      yield* shutdown
      yield* eventually(() => sessions[1]!.items.some((item) => item._tag === "SessionEnded"))
      assert.strictEqual(sessions[0]!.key, SessionKey.make(Fixtures.BOT_ID))
      assert.strictEqual(sessions[1]!.key, sessions[0]!.key)
      assert.deepStrictEqual(ofTag(sessions[0]!.items, "SessionEnded").map((e) => e.reason), ["timeout"])
      assert.deepStrictEqual(ofTag(sessions[1]!.items, "SessionEnded").map((e) => e.reason), ["shutdown"])
      assert.strictEqual(messages(sessions[0]!.items).length, 6)
      assert.strictEqual(messages(sessions[1]!.items).length, 4)
      assert.strictEqual(ofTag(sessions[1]!.items, "Gap").length, 0)
    }))

  it.live("two meetings at once stay apart; a bot-less message routes by recording id", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer()
      const out = yield* collect(server.events)
      yield* Effect.all([
        RecallSimulator.replay(meeting(10, { botId: "bot-a" }), { url: server.address.url, ...fast }),
        RecallSimulator.replay(meeting(10, { botId: null, recordingId: "rec-b" }), { url: server.address.url, ...fast })
      ], { concurrency: 2 })
      yield* shutdown
      yield* out.join
      const bySession = (key: string) => messages(out.items).filter((m) => m.session === key)
      assert.strictEqual(bySession("bot-a").length, 10)
      assert.strictEqual(bySession("rec-b").length, 10)
      const started = ofTag(out.items, "SessionStarted").find((s) => s.session === "rec-b")!
      assert.strictEqual(started.botId, null)
      assert.strictEqual(started.recordingId, "rec-b")
    }))
})

describe("frames", () => {
  it.live("malformed frames become DecodeFailed and the connection stays open", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer()
      const out = yield* collect(server.events)
      const ws = new WebSocket(server.address.url)
      yield* Effect.async<void>((resume) => void ws.once("open", () => resume(Effect.void)))
      ws.send(JSON.stringify(Fixtures.transcript("first")))
      ws.send("{not json")
      ws.send(JSON.stringify({ event: "transcript.data", data: { nope: true } }))
      ws.send(Buffer.from([0xff, 0xfe, 0x00]))
      ws.send(JSON.stringify(Fixtures.transcript("after the bad ones")))
      ws.send(JSON.stringify({ event: "something.new", data: { recording: { id: Fixtures.RECORDING_ID } } }))
      yield* eventually(() => messages(out.items).length === 3)
      assert.strictEqual(ws.readyState, WebSocket.OPEN)
      const failures = ofTag(out.items, "DecodeFailed")
      assert.deepStrictEqual(failures.map((f) => f.error.reason), ["InvalidJson", "InvalidShape", "InvalidJson"])
      assert.strictEqual(failures[1]!.error.event, "transcript.data")
      const connectionId = messages(out.items)[0]!.connectionId
      assert.isTrue(failures.every((f) => f.connectionId === connectionId))
      assert.strictEqual(messages(out.items)[2]!.event.event, "unknown")
      ws.close()
      yield* shutdown
    }))

  it.live("a frame over maxMessageBytes closes that connection with 1009 and nothing else", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ maxMessageBytes: 64 * 1024 })
      const out = yield* collect(server.events)
      const open = () => {
        const ws = new WebSocket(server.address.url)
        ws.on("error", () => {})
        return Effect.async<WebSocket>((resume) => void ws.once("open", () => resume(Effect.succeed(ws))))
      }
      const big = yield* open()
      const other = yield* open()
      const closed = Effect.async<number>((resume) => void big.once("close", (code) => resume(Effect.succeed(code))))
      big.send(JSON.stringify(Fixtures.transcript("before")))
      big.send(JSON.stringify(Fixtures.audio({ samples: new Int16Array(64 * 1024) })))
      assert.strictEqual(yield* closed, 1009)
      other.send(JSON.stringify(Fixtures.transcript("still here")))
      yield* eventually(() => messages(out.items).length === 2)
      assert.strictEqual(other.readyState, WebSocket.OPEN)
      const closes = ofTag(out.items, "ConnectionClosed")
      assert.deepStrictEqual(closes.map((c) => c.code), [1009])
      other.close()
      yield* shutdown
    }))

  it.scoped("a peer that stops answering pings is closed at the next round; one that answers stays (TestClock)", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ heartbeatInterval: "30 seconds" })
      const silent = yield* openClient(server.address.url, { autoPong: false })
      const alive = yield* openClient(server.address.url)
      // pinged, or closed instead (then the assertions below say what went wrong)
      const pinged = (ws: WebSocket) =>
        Effect.async<void>((resume) => {
          ws.once("ping", () => resume(Effect.void))
          ws.once("close", () => resume(Effect.void))
        })
      // the server has seen `alive`'s pong once the answer to a ping sent after it comes back: frames are ordered
      const answered = Effect.async<void>((resume) => {
        alive.once("pong", () => resume(Effect.void))
        alive.ping()
      })
      // a heartbeat round, once the heartbeat waits for it on the TestClock
      const round = Effect.gen(function*() {
        while (Chunk.isEmpty(yield* TestClock.sleeps())) yield* realSleep(5)
        yield* TestClock.adjust("30 seconds")
      })
      // round one: both are pinged and must show a sign of life before the next
      yield* Effect.all([round, pinged(silent), pinged(alive)], { concurrency: "unbounded" })
      yield* answered
      assert.strictEqual(silent.readyState, WebSocket.OPEN)
      // round two: the silent one is cut, the one that answered is pinged again
      const [code] = yield* Effect.all([closeCode(silent), pinged(alive), round], { concurrency: "unbounded" })
      assert.strictEqual(code, 1006)
      assert.strictEqual(alive.readyState, WebSocket.OPEN)
      alive.close()
      yield* closeCode(alive)
      yield* shutdown
    }))

  it.scoped("a heartbeat round is spread over its interval: each connection pinged once, never all at once (TestClock)", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ heartbeatInterval: "30 seconds" })
      const clients = yield* Effect.all(Array.from({ length: 40 }, () => openClient(server.address.url)))
      const pings = clients.map(() => 0)
      clients.forEach((ws, i) => ws.on("ping", () => pings[i]!++))
      // every heartbeat ping the server sent before this is in: a pong comes back after them on the same socket
      const caughtUp = Effect.all(
        clients.map((ws) =>
          Effect.async<void>((resume) => {
            ws.once("pong", () => resume(Effect.void))
            ws.ping()
          })
        ),
        { concurrency: "unbounded" }
      )
      while (Chunk.isEmpty(yield* TestClock.sleeps())) yield* realSleep(5)
      const perStep: Array<number> = []
      for (let step = 0; step < 10; step++) {
        const before = pings.reduce((a, b) => a + b, 0)
        yield* TestClock.adjust("3 seconds")
        yield* caughtUp
        perStep.push(pings.reduce((a, b) => a + b, 0) - before)
      }
      assert.deepStrictEqual(pings, clients.map(() => 1), `pings per step: ${perStep.join(", ")}`)
      assert.isBelow(Math.max(...perStep), clients.length, `pings per step: ${perStep.join(", ")}`)
      clients.forEach((ws) => ws.close())
      yield* Effect.all(clients.map(closeCode))
      yield* shutdown
    }))

  it.live("text that is not UTF-8 closes the connection with 1007, a reserved opcode with 1002; the session goes on", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer()
      const out = yield* collect(server.events)
      const utf8 = yield* openClient(server.address.url)
      utf8.send(JSON.stringify(Fixtures.transcript("one")))
      utf8.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false })
      assert.strictEqual(yield* closeCode(utf8), 1007)
      const raw = yield* rawClient(server.address.port)
      raw.send(0x1, Buffer.from(JSON.stringify(Fixtures.transcript("two"))))
      raw.send(0x3, Buffer.alloc(0))
      yield* Effect.async<void>((resume) => void raw.socket.once("close", () => resume(Effect.void)))
      const other = yield* openClient(server.address.url)
      other.send(JSON.stringify(Fixtures.transcript("three")))
      yield* eventually(() => messages(out.items).length === 3)
      const closes = ofTag(out.items, "ConnectionClosed").map((c) => [c.code, c.reason])
      assert.deepStrictEqual(closes, [[1007, "invalid UTF-8"], [1002, "protocol error"]])
      assert.strictEqual(ofTag(out.items, "SessionStarted").length, 1)
      const text = (yield* get(server.address.port, "/metrics")).body
      assert.strictEqual(sample(text, "callstream_connections_closed_total", { code: "1007" }), 1)
      assert.strictEqual(sample(text, "callstream_connections_closed_total", { code: "1002" }), 1)
      other.close()
      yield* shutdown
    }))

  it.live("one connection may carry two sessions: each gets its open and close, a bad frame goes to the last one", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer()
      const out = yield* collect(server.events)
      const ws = yield* openClient(server.address.url)
      ws.send(JSON.stringify(Fixtures.transcript("a1", { botId: "bot-a" })))
      ws.send(JSON.stringify(Fixtures.transcript("b1", { botId: "bot-b" })))
      ws.send("{not json")
      ws.send(JSON.stringify(Fixtures.transcript("a2", { botId: "bot-a" })))
      yield* eventually(() => messages(out.items).length === 3)
      ws.close(1000)
      yield* eventually(() => ofTag(out.items, "ConnectionClosed").length === 2)
      const connection = messages(out.items)[0]!.connectionId
      for (const session of ["bot-a", "bot-b"]) {
        const of = out.items.filter((item) => item.session === session)
        assert.deepStrictEqual(ofTag(of, "ConnectionOpened").map((o) => o.connectionId), [connection], session)
        assert.deepStrictEqual(ofTag(of, "ConnectionClosed").map((c) => [c.connectionId, c.code]), [[connection, 1000]])
      }
      assert.deepStrictEqual(ofTag(out.items, "DecodeFailed").map((f) => f.session), ["bot-b"])
      yield* shutdown
    }))
})
