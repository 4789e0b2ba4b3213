import { Fixtures, type SessionEvent } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Net from "node:net"
import { WebSocket } from "ws"
import type { RecallServer } from "../src/index.js"
import {
  closeCode,
  collect,
  eventually,
  get,
  messages,
  ofTag,
  openClient,
  rawClient,
  rawExchange,
  sample,
  startLoggedServer,
  startServer,
  upgradeRequest,
  upgradeStatus
} from "./helpers.js"

/**
 * With nobody reading: waits until the server has stopped reading (a socket is paused and what the clients still
 * hold stops moving for 10 checks in a row), and returns the most events and bytes it held on the way. No fixed
 * sleep: on a busy machine this only takes longer.
 */
const heldOnceBlocked = (server: RecallServer.RecallServer["Type"], clients: ReadonlyArray<WebSocket>) =>
  Effect.gen(function*() {
    const peak = { queued: 0, queuedBytes: 0 }
    let still = 0
    let last = -1
    const start = Date.now()
    while (still < 10) {
      if (Date.now() - start > 60_000) return yield* Effect.dieMessage("the server never stopped reading")
      const health = Effect.runSync(server.health)
      peak.queued = Math.max(peak.queued, health.queued)
      peak.queuedBytes = Math.max(peak.queuedBytes, health.queuedBytes)
      const pending = clients.reduce((n, ws) => n + ws.bufferedAmount, 0)
      still = health.paused > 0 && pending === last ? still + 1 : 0
      last = pending
      yield* Effect.sleep("20 millis")
    }
    return peak
  })

const spoken = (items: ReadonlyArray<SessionEvent.SessionEvent>, session: string) =>
  messages(items).filter((m) => m.session === session && m.event.event === "transcript.data").map((m) =>
    (m.event as { data: { data: { words: ReadonlyArray<{ text: string }> } } }).data.data.words.map((w) => w.text)
      .join(" ")
  )

const shed = (items: ReadonlyArray<SessionEvent.SessionEvent>, session: string, kind: "audio" | "video") =>
  ofTag(items, "Dropped").filter((d) => d.session === session && d.kind === kind).reduce((n, d) => n + d.count, 0)

const limit = (text: string, name: string) => sample(text, "callstream_limit_reached_total", { limit: name })

describe("backpressure", () => {
  it.live("a consumer that never reads: memory stays bounded, TCP pushes back, audio is shed only with Dropped", () =>
    Effect.gen(function*() {
      const bufferSize = 32
      const { server, shutdown } = yield* startServer({ bufferSize })
      const ws = yield* openClient(server.address.url)
      const audio = 6000
      const everyTranscript = 10
      let transcripts = 0
      for (let i = 0; i < audio; i++) {
        const at = i / 10
        ws.send(JSON.stringify(Fixtures.audio({ at, samples: new Int16Array(1600) })))
        if (i % everyTranscript === 0) {
          ws.send(JSON.stringify(Fixtures.transcript(`utterance ${transcripts++}`, { at })))
        }
      }
      // nobody reads: the server holds at most its buffer plus what one socket read had already brought in
      assert.isAtMost((yield* heldOnceBlocked(server, [ws])).queued, bufferSize * 3)
      // the rest is still on the client's side of the socket: the server stopped reading
      assert.isAbove(ws.bufferedAmount, 1_000_000)

      // now read everything
      const out = yield* collect(server.events)
      yield* eventually(
        () => messages(out.items).filter((m) => m.event.event === "transcript.data").length === transcripts,
        30_000
      )
      yield* eventually(() => ws.bufferedAmount === 0)
      ws.close()
      yield* closeCode(ws)
      yield* shutdown
      yield* out.join
      const got = messages(out.items)
      const said = got.filter((m) => m.event.event === "transcript.data").map((m) =>
        (m.event as { data: { data: { words: ReadonlyArray<{ text: string }> } } }).data.data.words[1]!.text
      )
      // every transcript, in order
      assert.deepStrictEqual(said, Array.from({ length: transcripts }, (_, i) => String(i)))
      // every audio message either arrived or is accounted for by a Dropped event
      const dropped = out.items.filter((item): item is SessionEvent.Dropped => item._tag === "Dropped")
      const audioGot = got.filter((m) => m.event.event === "audio_mixed_raw.data").length
      const audioDropped = dropped.filter((d) => d.kind === "audio").reduce((n, d) => n + d.count, 0)
      assert.isAbove(audioDropped, 0)
      assert.strictEqual(audioGot + audioDropped, audio)
      for (const d of dropped) assert.isAtMost(d.from, d.to)
    }))

  it.live("a flood of undecodable frames is held back like any other event: memory stays bounded", () =>
    Effect.gen(function*() {
      const bufferSize = 32
      const { server, shutdown } = yield* startServer({ bufferSize })
      const ws = yield* openClient(server.address.url)
      ws.send(JSON.stringify(Fixtures.transcript("names the session")))
      const bad = 5000
      // about 2 KB each, so one socket read (64 KiB) brings in at most about `bufferSize` of them
      for (let i = 0; i < bad; i++) ws.send(`{"not json ${i} ${"x".repeat(2000)}`)
      assert.isAtMost((yield* heldOnceBlocked(server, [ws])).queued, bufferSize * 3)
      // read everything: every failure is still reported, none was lost to the pause
      const out = yield* collect(server.events)
      yield* eventually(() => out.items.filter((item) => item._tag === "DecodeFailed").length === bad, 30_000)
      ws.close()
      yield* closeCode(ws)
      yield* shutdown
      yield* out.join
    }))
})

describe("limits on what is held for consumers", () => {
  it.live("video is shed like audio, only with a Dropped record; participant events are all kept", () =>
    Effect.gen(function*() {
      const bufferSize = 16
      const { server, shutdown } = yield* startServer({ bufferSize })
      const ws = yield* openClient(server.address.url)
      const frames = 3000
      for (let i = 0; i < frames; i++) {
        const at = i / 2
        ws.send(JSON.stringify(Fixtures.video({ at })))
        if (i % 10 === 0) ws.send(JSON.stringify(Fixtures.speech("participant_events.speech_on", { at })))
      }
      assert.isAtMost((yield* heldOnceBlocked(server, [ws])).queued, bufferSize * 3)
      const out = yield* collect(server.events)
      yield* eventually(() => ws.bufferedAmount === 0)
      ws.close()
      yield* closeCode(ws)
      yield* shutdown
      yield* out.join
      const got = messages(out.items)
      const video = got.filter((m) => m.event.event === "video_separate_png.data").length
      assert.isAbove(shed(out.items, Fixtures.BOT_ID, "video"), 0)
      assert.strictEqual(video + shed(out.items, Fixtures.BOT_ID, "video"), frames)
      assert.strictEqual(got.filter((m) => m.event.event === "participant_events.speech_on").length, frames / 10)
    }))

  it.live("bufferBytes: a session holding that many bytes sheds media and pauses its socket, counted and logged", () =>
    Effect.gen(function*() {
      const bufferBytes = 64 * 1024
      // the event limit is far away: only bytes can bite
      const { lines, server, shutdown } = yield* startLoggedServer({ bufferSize: 100_000, bufferBytes })
      const before = (yield* get(server.address.port, "/metrics")).body
      const ws = yield* openClient(server.address.url)
      const audio = 2000
      for (let i = 0; i < audio; i++) {
        ws.send(JSON.stringify(Fixtures.audio({ at: i / 10 })))
        if (i % 20 === 0) ws.send(JSON.stringify(Fixtures.transcript(`utterance ${i / 20}`, { at: i / 10 })))
      }
      const held = yield* heldOnceBlocked(server, [ws])
      // the limit, plus what one socket read (64 KiB) had already brought in
      assert.isAtMost(held.queuedBytes, bufferBytes + 128 * 1024)
      const text = (yield* get(server.address.port, "/metrics")).body
      assert.isAtLeast(limit(text, "buffer_bytes") - limit(before, "buffer_bytes"), 1)
      assert.strictEqual(limit(text, "buffer_size") - limit(before, "buffer_size"), 0)
      assert.isTrue(lines.some((line) => line.annotations.limit === "buffer_bytes"))
      const out = yield* collect(server.events)
      yield* eventually(() => ws.bufferedAmount === 0)
      ws.close()
      yield* closeCode(ws)
      yield* shutdown
      yield* out.join
      assert.deepStrictEqual(
        spoken(out.items, Fixtures.BOT_ID),
        Array.from({ length: audio / 20 }, (_, i) => `utterance ${i}`)
      )
      const got = messages(out.items).filter((m) => m.event.event === "audio_mixed_raw.data").length
      assert.isAbove(shed(out.items, Fixtures.BOT_ID, "audio"), 0)
      assert.strictEqual(got + shed(out.items, Fixtures.BOT_ID, "audio"), audio)
    }))

  it.live("the memory budget: 300 sessions and a consumer that stops reading slow the server down, nothing is lost", () =>
    Effect.gen(function*() {
      const memoryBudget = 2 * 1024 * 1024
      const sessions = 300
      // per session the limits are far away: only the budget, across sessions, can bite
      const { lines, server, shutdown } = yield* startLoggedServer({ memoryBudget, bufferSize: 100_000 })
      const clients = yield* Effect.all(
        Array.from({ length: sessions }, () => openClient(server.address.url)),
        { concurrency: 50 }
      )
      const audio = 40
      clients.forEach((ws, s) => {
        const botId = `bot-${s}`
        for (let i = 0; i < audio; i++) {
          ws.send(JSON.stringify(Fixtures.audio({ botId, at: i / 10 })))
          if (i % 10 === 0) ws.send(JSON.stringify(Fixtures.transcript(`said ${i / 10}`, { botId, at: i / 10 })))
        }
      })
      const held = yield* heldOnceBlocked(server, clients)
      // the budget, plus per connection the frame that found it full and its control events
      assert.isAtMost(held.queuedBytes, memoryBudget + sessions * 4 * 1024)
      const text = (yield* get(server.address.port, "/metrics")).body
      assert.isAtLeast(limit(text, "memory_budget"), 1)
      assert.isTrue(lines.some((line) => line.message.startsWith("Memory budget reached")))

      // the consumer comes back: everything is delivered or accounted for, every socket resumes
      const out = yield* collect(server.events)
      yield* eventually(() => clients.every((ws) => ws.bufferedAmount === 0), 60_000)
      yield* eventually(() => spoken(out.items, `bot-${sessions - 1}`).length === audio / 10, 60_000)
      yield* Effect.forEach(clients, (ws) => Effect.zipRight(Effect.sync(() => ws.close()), closeCode(ws)), {
        concurrency: "unbounded"
      })
      assert.strictEqual(Effect.runSync(server.health).paused, 0)
      yield* shutdown
      yield* out.join
      let shedTotal = 0
      for (let s = 0; s < sessions; s++) {
        const session = `bot-${s}`
        assert.deepStrictEqual(spoken(out.items, session), ["said 0", "said 1", "said 2", "said 3"], session)
        const got = messages(out.items).filter((m) => m.session === session && m.event.event === "audio_mixed_raw.data")
        assert.strictEqual(got.length + shed(out.items, session, "audio"), audio, session)
        shedTotal += shed(out.items, session, "audio")
      }
      assert.isAbove(shedTotal, 0)
      assert.isTrue(lines.some((line) => line.message.startsWith("Back under half the memory budget")))
    }))
})

describe("shutdown", () => {
  it.live("closes sockets with 1001, keeps everything accepted and ends every session, within the deadline", () =>
    Effect.gen(function*() {
      // a deadline that would show: a shutdown that waited for it would cut the sockets (1006) and take 30 s
      const { server, shutdown } = yield* startServer({ shutdownTimeout: "30 seconds", sessionTimeout: "1 minute" })
      const out = yield* collect(server.events)
      const clients = yield* Effect.all([
        openClient(server.address.url),
        openClient(server.address.url),
        openClient(server.address.url)
      ])
      const n = 200
      clients.forEach((ws, c) => {
        for (let i = 0; i < n; i++) {
          ws.send(JSON.stringify(Fixtures.transcript(`c${c} m${i}`, { at: i, botId: c === 2 ? "bot-two" : "bot-one" })))
        }
      })
      // a session whose connection is gone, waiting for its timeout
      const gone = yield* openClient(server.address.url)
      gone.send(JSON.stringify(Fixtures.transcript("bye", { botId: "bot-gone" })))
      gone.close()
      yield* closeCode(gone)
      const codes = yield* Effect.fork(Effect.all(clients.map(closeCode), { concurrency: "unbounded" }))
      yield* shutdown
      assert.deepStrictEqual(yield* Fiber.join(codes), [1001, 1001, 1001])
      yield* out.join
      assert.deepStrictEqual(ofTag(out.items, "ConnectionClosed").map((c) => c.code), [1005, 1001, 1001, 1001])
      assert.strictEqual(messages(out.items).length, 3 * n + 1)
      const ended = out.items.filter((item): item is SessionEvent.SessionEnded => item._tag === "SessionEnded")
      assert.deepStrictEqual(ended.map((e) => e.reason), ["shutdown", "shutdown", "shutdown"])
      assert.deepStrictEqual(new Set(ended.map((e) => e.session)), new Set(["bot-one", "bot-two", "bot-gone"]))
      // and each session's last event is its end
      for (const key of ["bot-one", "bot-two", "bot-gone"]) {
        assert.strictEqual(out.items.filter((item) => item.session === key).at(-1)!._tag, "SessionEnded")
      }
    }))
})

describe("shutdown with a peer that never answers", () => {
  it.live("while it waits: /healthz says 503 shutting_down, upgrades get 503; at the deadline the peer is cut", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ shutdownTimeout: "1 second", sessionTimeout: "1 minute" })
      const out = yield* collect(server.events)
      const port = server.address.port
      // a client that reads nothing once it has sent: it never answers the server's close
      const peer = yield* rawClient(port)
      peer.send(0x1, Buffer.from(JSON.stringify(Fixtures.transcript("hello", { botId: "bot-silent" }))))
      yield* eventually(() => messages(out.items).length === 1)
      peer.socket.pause()
      const started = Date.now()
      const closing = yield* Effect.fork(shutdown)
      yield* eventually(() => Effect.runSync(server.health).status === "shutting_down")
      const health = yield* get(port, "/healthz")
      assert.strictEqual(health.status, 503)
      assert.strictEqual(JSON.parse(health.body).status, "shutting_down")
      assert.strictEqual(yield* upgradeStatus(server.address.url), 503)
      yield* Fiber.join(closing)
      // cut at the 1 s deadline, not after the 30 s `ws` itself waits for a close handshake
      assert.isBelow(Date.now() - started, 20_000)
      yield* out.join
      const closed = ofTag(out.items, "ConnectionClosed")
      assert.deepStrictEqual(closed.map((c) => [c.code, c.reason]), [[1006, "terminated at shutdown"]])
      assert.deepStrictEqual(ofTag(out.items, "SessionEnded").map((e) => e.reason), ["shutdown"])
      assert.strictEqual(messages(out.items).length, 1)
      peer.socket.destroy()
    }))
})

describe("shutdown with a consumer that fell behind", () => {
  it.live("paused sockets close cleanly (1001 both ways) well before the deadline, and what they sent is kept", () =>
    Effect.gen(function*() {
      const bufferSize = 8
      // a deadline that would show (see above)
      const { server, shutdown } = yield* startServer({ bufferSize, shutdownTimeout: "30 seconds" })
      const ws = yield* openClient(server.address.url)
      const n = 300
      for (let i = 0; i < n; i++) ws.send(JSON.stringify(Fixtures.transcript(`m${i}`, { at: i })))
      // nobody reads yet: the socket is paused with most of the messages still unread
      yield* eventually(() => Effect.runSync(server.health).paused === 1)
      const code = yield* Effect.fork(closeCode(ws))
      const closing = yield* Effect.fork(shutdown)
      // the consumer only comes back once shutdown is under way
      yield* eventually(() => Effect.runSync(server.health).status === "shutting_down")
      const out = yield* collect(server.events)
      yield* Fiber.join(closing)
      assert.strictEqual(yield* Fiber.join(code), 1001)
      yield* out.join
      assert.strictEqual(messages(out.items).length, n)
      const closed = out.items.filter((item): item is SessionEvent.ConnectionClosed => item._tag === "ConnectionClosed")
      assert.deepStrictEqual(closed.map((c) => c.code), [1001])
    }))
})

describe("hostile peers", () => {
  it.live("TCP resets at every point of the handshake cannot crash the server", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ heartbeatInterval: "50 millis" })
      const port = server.address.port
      const full = upgradeRequest("/ws")
      const cuts = [full.slice(0, 20), full.slice(0, full.length - 4), full]
      for (let round = 0; round < 20; round++) {
        for (const text of cuts) {
          yield* Effect.async<void>((resume) => {
            const socket = Net.connect(port, "127.0.0.1", () => {
              socket.write(text, () => {
                socket.resetAndDestroy()
                resume(Effect.void)
              })
            })
            socket.on("error", () => resume(Effect.void))
          })
        }
        // reset right after the 101 arrives
        yield* Effect.async<void>((resume) => {
          const socket = Net.connect(port, "127.0.0.1", () => socket.write(full))
          socket.once("data", () => {
            socket.resetAndDestroy()
            resume(Effect.void)
          })
          socket.on("error", () => resume(Effect.void))
        })
      }
      yield* eventually(() => Effect.runSync(server.health).connections === 0)
      const health = yield* get(port, "/healthz")
      assert.strictEqual(health.status, 200)
      const answer = yield* rawExchange(port, upgradeRequest("/elsewhere"))
      assert.match(answer, /^HTTP\/1\.1 404/)
      const ws = yield* openClient(server.address.url)
      assert.strictEqual(ws.readyState, WebSocket.OPEN)
      ws.close()
      yield* shutdown
    }))
})
