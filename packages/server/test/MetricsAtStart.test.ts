import { Decoder, RecallEvent } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { WebSocket } from "ws"
import { ServerMetrics, UpgradeAuth } from "../src/index.js"
import { get, metricsUntil, startServer } from "./helpers.js"

// its own file, so the metric registry has seen nothing from other tests when the server starts
describe("/metrics at start", () => {
  it.live("shows every metric the server defines, at 0, before any connection", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer()
      const text = (yield* get(server.address.port, "/metrics")).body
      const samples = new Map<string, number>()
      for (const line of text.split("\n")) {
        if (line === "" || line.startsWith("#")) continue
        const at = line.lastIndexOf(" ")
        samples.set(line.slice(0, at), Number(line.slice(at + 1)))
      }
      const expected = [
        "callstream_connections_current",
        "callstream_connections_total",
        "callstream_unrouted_frames_total",
        "callstream_sessions_current",
        "callstream_sessions_total",
        "callstream_gaps_total",
        "callstream_queue_depth",
        "callstream_backpressure_pauses_total",
        "callstream_refused_frames_total",
        "callstream_queue_bytes",
        "callstream_paused_connections",
        "callstream_remembered_ids",
        "callstream_log_lines_suppressed_total",
        ...UpgradeAuth.failures.map((r) => `callstream_auth_failures_total{reason="${r}"}`),
        ...Decoder.DecodeErrorReason.literals.map((r) => `callstream_decode_failures_total{reason="${r}"}`),
        ...ServerMetrics.limits.map((l) => `callstream_limit_reached_total{limit="${l}"}`),
        ...ServerMetrics.callbacks.map((c) => `callstream_internal_errors_total{callback="${c}"}`),
        ...["audio", "video"].map((k) => `callstream_dropped_total{kind="${k}"}`),
        ...["timeout", "shutdown"].map((r) => `callstream_sessions_ended_total{reason="${r}"}`),
        ...[...RecallEvent.eventNames, "unknown"].flatMap((e) => [
          `callstream_messages_total{event="${e}"}`,
          `callstream_message_bytes_total{event="${e}"}`
        ])
      ]
      for (const name of expected) assert.strictEqual(samples.get(name), 0, name)
      // the one metric that is not 0 at start: the budget it runs with
      assert.isAbove(samples.get("callstream_memory_budget_bytes")!, 0)
      // every family has its type line, close codes included once one is seen
      assert.match(text, /# TYPE callstream_auth_failures_total counter/)
      assert.match(text, /# TYPE callstream_queue_depth gauge/)

      // later updates land on the same samples (no second line with the same labels)
      const ws = new WebSocket(server.address.url)
      yield* Effect.async<void>((resume) => void ws.once("open", () => resume(Effect.void)))
      ws.send("not json")
      const failures = (body: string) =>
        body.split("\n").filter((l) => l.startsWith("callstream_decode_failures_total"))
      const after = yield* metricsUntil(
        server.address.port,
        (body) => failures(body).includes("callstream_decode_failures_total{reason=\"InvalidJson\"} 1")
      )
      const lines = after.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) =>
        l.slice(0, l.lastIndexOf(" "))
      )
      assert.strictEqual(new Set(lines).size, lines.length)
      ws.close()
      yield* shutdown
    }))
})
