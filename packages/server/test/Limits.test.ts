import { Fixtures } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as Net from "node:net"
import { WebSocket } from "ws"
import { ServerMetrics, UpgradeAuth } from "../src/index.js"
import {
  closeCode,
  collect,
  eventually,
  get,
  messages,
  metricsUntil,
  ofTag,
  openClient,
  sample,
  startLoggedServer,
  startServer,
  upgradeStatus
} from "./helpers.js"

const limit = (text: string, name: string) => sample(text, "callstream_limit_reached_total", { limit: name })

const transcript = (botId: string, text: string, at = 0) => JSON.stringify(Fixtures.transcript(text, { botId, at }))

describe("session limits", () => {
  it.live("maxSessions: a frame that would start one more is refused, its idle connection closed with 1013", () =>
    Effect.gen(function*() {
      const { lines, server, shutdown } = yield* startLoggedServer({ maxSessions: 2, sessionTimeout: "200 millis" })
      const out = yield* collect(server.events)
      const a = yield* openClient(server.address.url)
      const b = yield* openClient(server.address.url)
      a.send(transcript("bot-a", "a"))
      b.send(transcript("bot-b", "b"))
      yield* eventually(() => messages(out.items).length === 2)
      const c = yield* openClient(server.address.url)
      c.send(transcript("bot-c", "refused"))
      assert.strictEqual(yield* closeCode(c), 1013)
      const text = yield* metricsUntil(server.address.port, (t) => limit(t, "sessions") === 1)
      assert.strictEqual(sample(text, "callstream_refused_frames_total"), 1)
      assert.isTrue(lines.some((line) => line.message === "Session limit reached: frame refused"))
      // a session that ends frees its slot: Recall's retry then gets in
      a.close()
      yield* eventually(() => ofTag(out.items, "SessionEnded").length === 1)
      const retry = yield* openClient(server.address.url)
      retry.send(transcript("bot-c", "accepted"))
      yield* eventually(() => messages(out.items).length === 3)
      assert.deepStrictEqual(messages(out.items).map((m) => m.session), ["bot-a", "bot-b", "bot-c"])
      assert.strictEqual(b.readyState, WebSocket.OPEN)
      b.close()
      retry.close()
      yield* shutdown
    }))

  it.live("maxSessionsPerConnection: frames for one session more are refused, the connection and its session go on", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ maxSessionsPerConnection: 1 })
      const out = yield* collect(server.events)
      const before = (yield* get(server.address.port, "/metrics")).body
      const ws = yield* openClient(server.address.url)
      ws.send(transcript("bot-a", "one"))
      ws.send(transcript("bot-b", "refused"))
      ws.send(transcript("bot-a", "two"))
      yield* eventually(() => messages(out.items).length === 2)
      const text = yield* metricsUntil(server.address.port, (t) => limit(t, "sessions_per_connection") === 1)
      assert.strictEqual(
        sample(text, "callstream_refused_frames_total") - sample(before, "callstream_refused_frames_total"),
        1
      )
      assert.strictEqual(ws.readyState, WebSocket.OPEN)
      assert.deepStrictEqual(ofTag(out.items, "SessionStarted").map((s) => s.session), ["bot-a"])
      ws.close()
      yield* shutdown
    }))

  it.live("a session key longer than any Recall id is a decode failure, not a session", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer()
      const out = yield* collect(server.events)
      const ws = yield* openClient(server.address.url)
      ws.send(transcript("bot-a", "one"))
      ws.send(transcript("k".repeat(2_000), "too long"))
      yield* eventually(() => ofTag(out.items, "DecodeFailed").length === 1)
      const [failed] = ofTag(out.items, "DecodeFailed")
      assert.deepStrictEqual([failed!.session, failed!.error.reason, failed!.error.path], [
        "bot-a",
        "InvalidShape",
        "data.bot.id"
      ])
      assert.strictEqual(ofTag(out.items, "SessionStarted").length, 1)
      ws.close()
      yield* shutdown
    }))
})

describe("connection limits", () => {
  it.live("maxConnections: one upgrade more is answered 503, counted and logged; a freed slot is taken again", () =>
    Effect.gen(function*() {
      const { lines, server, shutdown } = yield* startLoggedServer({ maxConnections: 2 })
      const first = yield* openClient(server.address.url)
      yield* openClient(server.address.url)
      assert.strictEqual(yield* upgradeStatus(server.address.url), 503)
      const text = (yield* get(server.address.port, "/metrics")).body
      assert.strictEqual(limit(text, "connections"), 1)
      assert.isTrue(lines.some((line) => line.message === "Upgrade refused: connection limit reached"))
      // health checks and metrics still answer while every websocket slot is taken
      assert.strictEqual((yield* get(server.address.port, "/healthz")).status, 200)
      first.close()
      yield* eventually(() => Effect.runSync(server.health).connections === 1)
      assert.strictEqual(yield* upgradeStatus(server.address.url), 101)
      yield* shutdown
    }))

  it.live("maxConnectionsPerAddress: one address is refused while another still gets in", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ maxConnectionsPerAddress: 1 })
      const url = server.address.url
      const before = (yield* get(server.address.port, "/metrics")).body
      yield* openClient(url)
      assert.strictEqual(yield* upgradeStatus(url), 503)
      // Linux routes all of 127/8 to the loopback interface: a client bound to 127.0.0.2 is another address
      const other = yield* openClient(url, { localAddress: "127.0.0.2" })
      assert.strictEqual(other.readyState, WebSocket.OPEN)
      const text = (yield* get(server.address.port, "/metrics")).body
      assert.strictEqual(limit(text, "connections_per_address") - limit(before, "connections_per_address"), 1)
      yield* shutdown
    }))

  it.live("TCP connections beyond the websocket limit and a small headroom are dropped and counted", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ maxConnections: 1 })
      // no HTTP request before: a kept-alive one would hold a slot too
      let dropped = 0
      const sockets = yield* Effect.promise(() =>
        Promise.all(Array.from({ length: 100 }, () =>
          new Promise<Net.Socket>((resolve) => {
            const socket = Net.connect(server.address.port, "127.0.0.1", () => resolve(socket))
            socket.on("error", () => {})
            socket.on("close", () => dropped++)
          })))
      )
      // 1 websocket slot and 64 more for HTTP: the server closes the other 35 at once
      yield* eventually(() => dropped === 35)
      for (const socket of sockets) socket.destroy()
      // read in process: an HTTP request now could find every slot still taken
      const counted = yield* Metric.value(Metric.tagged(ServerMetrics.limitReached, "limit", "tcp_connections"))
      assert.strictEqual(counted.count, 35)
      yield* shutdown
    }))
})

describe("signature ids", () => {
  it.live("maxRememberedIds: an id forgotten while still fresh is counted, since it could be replayed", () =>
    Effect.gen(function*() {
      const secret = Redacted.make("whsec_" + Buffer.from("limits test key, 32 bytes.......").toString("base64"))
      const { server, shutdown } = yield* startServer({ signingSecret: secret, maxRememberedIds: 2 })
      const first = UpgradeAuth.signedHeaders(secret, { id: "msg_1" })
      assert.strictEqual(yield* upgradeStatus(server.address.url, first), 101)
      assert.strictEqual(yield* upgradeStatus(server.address.url, first), 401)
      assert.strictEqual(
        yield* upgradeStatus(server.address.url, UpgradeAuth.signedHeaders(secret, { id: "msg_2" })),
        101
      )
      assert.strictEqual(
        yield* upgradeStatus(server.address.url, UpgradeAuth.signedHeaders(secret, { id: "msg_3" })),
        101
      )
      const text = (yield* get(server.address.port, "/metrics")).body
      assert.strictEqual(limit(text, "remembered_ids"), 1)
      assert.strictEqual(sample(text, "callstream_remembered_ids"), 2)
      // the cost the metric warns about: the forgotten id passes again
      assert.strictEqual(yield* upgradeStatus(server.address.url, first), 101)
      yield* shutdown
    }))
})
