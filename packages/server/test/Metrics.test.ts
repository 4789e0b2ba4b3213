import { SampleMeeting } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { WebSocket } from "ws"
import { RecallServer, RecallSimulator } from "../src/index.js"
import { eventually, fast, get, metricsUntil, sample, startServer, upgradeStatus } from "./helpers.js"

describe("/healthz and /metrics", () => {
  it.live("report the values of a known replay", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ sessionTimeout: "1 minute" })
      const port = server.address.port
      const before = (yield* get(port, "/metrics")).body
      const meeting = SampleMeeting.generate({ duration: 6, separate: true, video: true })
      const result = yield* RecallSimulator.replay(meeting.entries, {
        url: server.address.url,
        ...fast,
        separateConnections: true
      })

      // two frames that name no session, on a connection that never named one
      const ws = new WebSocket(server.address.url)
      yield* Effect.async<void>((resume) => void ws.once("open", () => resume(Effect.void)))
      ws.send("not json")
      ws.send("{\"event\":1}")
      const counted = (text: string) => sample(text, "callstream_unrouted_frames_total")
      yield* metricsUntil(port, (text) => counted(text) - counted(before) === 2)
      ws.close()
      yield* eventually(() => Effect.runSync(server.health).connections === 0)

      const after = (yield* get(port, "/metrics")).body
      const delta = (name: string, labels: Record<string, string> = {}) =>
        sample(after, name, labels) - sample(before, name, labels)
      const counts = new Map<string, number>()
      const bytes = new Map<string, number>()
      for (const entry of meeting.entries) {
        const name = (entry.message as { event: string }).event
        counts.set(name, (counts.get(name) ?? 0) + 1)
        bytes.set(name, (bytes.get(name) ?? 0) + Buffer.byteLength(JSON.stringify(entry.message)))
      }
      for (const [event, n] of counts) {
        assert.strictEqual(delta("callstream_messages_total", { event }), n, event)
        assert.strictEqual(delta("callstream_message_bytes_total", { event }), bytes.get(event), event)
      }
      assert.strictEqual(delta("callstream_connections_total"), result.connections + 1)
      assert.strictEqual(delta("callstream_connections_closed_total", { code: "1000" }), result.connections)
      assert.strictEqual(delta("callstream_connections_closed_total", { code: "1005" }), 1)
      assert.strictEqual(delta("callstream_sessions_total"), 1)
      assert.strictEqual(delta("callstream_decode_failures_total", { reason: "InvalidJson" }), 1)
      assert.strictEqual(delta("callstream_decode_failures_total", { reason: "InternalError" }), 0)
      assert.strictEqual(delta("callstream_decode_failures_total", { reason: "InvalidShape" }), 1)
      assert.strictEqual(sample(after, "callstream_sessions_current"), 1)
      assert.strictEqual(sample(after, "callstream_connections_current"), 0)
      // nobody consumes: every event is still queued (started, opened and closed per connection, the messages)
      assert.strictEqual(sample(after, "callstream_queue_depth"), meeting.entries.length + 1 + 2 * result.connections)
      assert.match(after, /# TYPE callstream_messages_total counter/)
      assert.match(after, /# TYPE callstream_connections_current gauge/)

      const health = yield* get(port, "/healthz")
      assert.strictEqual(health.status, 200)
      const { queuedBytes, ...rest } = JSON.parse(health.body)
      const controls = 1 + 2 * result.connections
      assert.deepStrictEqual(rest, {
        status: "ok",
        sessions: 1,
        connections: 0,
        paused: 0,
        queued: meeting.entries.length + controls
      })
      // every frame held by its bytes, each control event by a small fixed weight
      const frameBytes = [...bytes.values()].reduce((a, b) => a + b, 0)
      assert.isAbove(queuedBytes, frameBytes)
      assert.isAtMost(queuedBytes, frameBytes + 1024 * controls)
      assert.strictEqual(sample(after, "callstream_queue_bytes"), queuedBytes)
      assert.strictEqual((yield* get(port, "/nothing")).status, 404)
      // a plain GET on the websocket path is told to upgrade
      const plain = yield* get(port, "/ws")
      assert.deepStrictEqual([plain.status, plain.body], [426, "Upgrade Required"])
      yield* shutdown
    }))

  it.live("layerConfig reads CALLSTREAM_* settings, secrets redacted", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromMap(
        new Map([
          ["CALLSTREAM_HOST", "127.0.0.1"],
          ["CALLSTREAM_PORT", "0"],
          ["CALLSTREAM_PATH", "/recall"],
          ["CALLSTREAM_TOKEN", "first, second"]
        ]),
        { pathDelim: "_" }
      )
      const options = yield* Effect.withConfigProvider(RecallServer.config, provider)
      assert.deepStrictEqual(options.tokens?.map(Redacted.value), ["first", "second"])
      assert.notInclude(JSON.stringify(options), "second")
      const layer = RecallServer.layerConfig().pipe(
        Layer.provide(Layer.setConfigProvider(provider)),
        Layer.provide(Logger.minimumLogLevel(LogLevel.None))
      )
      yield* Effect.gen(function*() {
        const server = yield* RecallServer.RecallServer
        assert.strictEqual(server.address.path, "/recall")
        assert.strictEqual(server.authMode, "token")
        assert.strictEqual(yield* upgradeStatus(`${server.address.url}?token=second`), 101)
        assert.strictEqual(yield* upgradeStatus(`${server.address.url}?token=third`), 401)
      }).pipe(Effect.provide(layer))
    }))
})
