import { Fixtures, type SessionEvent } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Net from "node:net"
import { WebSocket } from "ws"
import { collect, eventually, get, messages, rawExchange, startServer, upgradeRequest } from "./helpers.js"

const openClient = (url: string) => {
  const ws = new WebSocket(url)
  ws.on("error", () => {})
  return Effect.async<WebSocket>((resume) => void ws.once("open", () => resume(Effect.succeed(ws))))
}

const closeCode = (ws: WebSocket) =>
  Effect.async<number>((resume) => {
    if (ws.readyState === WebSocket.CLOSED) return resume(Effect.succeed(-1))
    ws.once("close", (code) => resume(Effect.succeed(code)))
  })

/** Once the buffer has filled, the most events the server held over the next 600 ms of nobody reading. */
const peakQueued = (server: { readonly health: Effect.Effect<{ readonly queued: number }> }, bufferSize: number) =>
  Effect.gen(function*() {
    yield* eventually(() => Effect.runSync(server.health).queued >= bufferSize)
    let peak = 0
    for (let i = 0; i < 30; i++) {
      peak = Math.max(peak, Effect.runSync(server.health).queued)
      yield* Effect.sleep("20 millis")
    }
    return peak
  })

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
      assert.isAtMost(yield* peakQueued(server, bufferSize), bufferSize * 3)
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
      assert.isAtMost(yield* peakQueued(server, bufferSize), bufferSize * 3)
      // read everything: every failure is still reported, none was lost to the pause
      const out = yield* collect(server.events)
      yield* eventually(() => out.items.filter((item) => item._tag === "DecodeFailed").length === bad, 30_000)
      ws.close()
      yield* closeCode(ws)
      yield* shutdown
      yield* out.join
    }))
})

describe("shutdown", () => {
  it.live("closes sockets with 1001, keeps everything accepted and ends every session, within the deadline", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ shutdownTimeout: "2 seconds", sessionTimeout: "1 minute" })
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
      const started = Date.now()
      yield* shutdown
      const took = Date.now() - started
      assert.deepStrictEqual(yield* Fiber.join(codes), [1001, 1001, 1001])
      assert.isBelow(took, 5_000)
      yield* out.join
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

describe("shutdown with a consumer that fell behind", () => {
  it.live("paused sockets close cleanly (1001 both ways) well before the deadline, and what they sent is kept", () =>
    Effect.gen(function*() {
      const bufferSize = 8
      const { server, shutdown } = yield* startServer({ bufferSize, shutdownTimeout: "3 seconds" })
      const ws = yield* openClient(server.address.url)
      const n = 300
      for (let i = 0; i < n; i++) ws.send(JSON.stringify(Fixtures.transcript(`m${i}`, { at: i })))
      // nobody reads yet: the socket is paused with most of the messages still unread
      yield* eventually(() => Effect.runSync(server.health).queued >= bufferSize)
      const code = yield* Effect.fork(closeCode(ws))
      const started = Date.now()
      const closing = yield* Effect.fork(shutdown)
      // the consumer only comes back once shutdown is under way
      yield* Effect.sleep("300 millis")
      const out = yield* collect(server.events)
      yield* Fiber.join(closing)
      assert.isBelow(Date.now() - started, 2_000, "no wait for the deadline")
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
