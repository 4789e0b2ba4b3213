/**
 * The server's metrics, as Effect `Metric`s in the global registry, and their rendering in the Prometheus text
 * format (what `GET /metrics` answers). Every name starts with `callstream_`.
 *
 * ```ts
 * import { ServerMetrics } from "@callstream/server"
 * import { Effect, Metric } from "effect"
 *
 * const connectionsSoFar = Metric.value(ServerMetrics.connectionsTotal).pipe(Effect.map((state) => state.count))
 * ```
 *
 * @since 0.1.0
 */
import * as Decoder from "@callstream/core/Decoder"
import * as RecallEvent from "@callstream/core/RecallEvent"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Prometheus from "./internal/prometheus.js"
import type * as UpgradeAuth from "./UpgradeAuth.js"

/**
 * Websocket connections open now.
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionsCurrent = Metric.gauge("callstream_connections_current", {
  description: "Websocket connections open now"
})

/**
 * Websocket connections accepted since start.
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionsTotal = Metric.counter("callstream_connections_total", {
  description: "Websocket connections accepted",
  incremental: true
})

/**
 * Closed connections, tagged with the close `code`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionsClosed = Metric.counter("callstream_connections_closed_total", {
  description: "Websocket connections closed, by close code",
  incremental: true
})

/**
 * Rejected upgrades, tagged with the `reason` (`missing`, `invalid`, `stale`, `replayed`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const authFailures = Metric.counter("callstream_auth_failures_total", {
  description: "Upgrade requests rejected by authentication, by reason",
  incremental: true
})

/**
 * Decoded messages, tagged with the `event` name.
 *
 * @since 0.1.0
 * @category metrics
 */
export const messages = Metric.counter("callstream_messages_total", {
  description: "Messages received and decoded, by event",
  incremental: true
})

/**
 * Bytes of decoded messages, tagged with the `event` name.
 *
 * @since 0.1.0
 * @category metrics
 */
export const messageBytes = Metric.counter("callstream_message_bytes_total", {
  description: "Bytes of messages received and decoded, by event",
  incremental: true
})

/**
 * Frames that did not decode, tagged with the `reason` (`InvalidJson`, `InvalidShape`). Counts frames that name
 * no session too.
 *
 * @since 0.1.0
 * @category metrics
 */
export const decodeFailures = Metric.counter("callstream_decode_failures_total", {
  description: "Frames that could not be decoded, by reason",
  incremental: true
})

/**
 * Frames that could not be routed to a session (no bot id nor recording id, on a connection with no session yet).
 *
 * @since 0.1.0
 * @category metrics
 */
export const unrouted = Metric.counter("callstream_unrouted_frames_total", {
  description: "Frames that named no session",
  incremental: true
})

/**
 * Media messages shed under overload, tagged with the `kind` (`audio`, `video`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const dropped = Metric.counter("callstream_dropped_total", {
  description: "Media messages shed because a session's consumer fell behind, by kind",
  incremental: true
})

/**
 * Sessions open now.
 *
 * @since 0.1.0
 * @category metrics
 */
export const sessionsCurrent = Metric.gauge("callstream_sessions_current", { description: "Sessions open now" })

/**
 * Sessions started since start.
 *
 * @since 0.1.0
 * @category metrics
 */
export const sessionsTotal = Metric.counter("callstream_sessions_total", {
  description: "Sessions started",
  incremental: true
})

/**
 * Sessions ended, tagged with the `reason` (`timeout`, `shutdown`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const sessionsEnded = Metric.counter("callstream_sessions_ended_total", {
  description: "Sessions ended, by reason",
  incremental: true
})

/**
 * Gaps: reconnects after a time with no connection for a session.
 *
 * @since 0.1.0
 * @category metrics
 */
export const gaps = Metric.counter("callstream_gaps_total", {
  description: "Spans of meeting time with no connection, closed by a reconnect",
  incremental: true
})

/**
 * Events waiting in session buffers for their consumers.
 *
 * @since 0.1.0
 * @category metrics
 */
export const queueDepth = Metric.gauge("callstream_queue_depth", {
  description: "Events buffered for session consumers"
})

/**
 * Times a connection's socket was paused because its session's buffer was full.
 *
 * @since 0.1.0
 * @category metrics
 */
export const pauses = Metric.counter("callstream_backpressure_pauses_total", {
  description: "Socket pauses because a session buffer was full",
  incremental: true
})

/**
 * Makes every metric above appear in the registry, and so at `/metrics`, before anything happened: Effect adds a
 * metric to the registry on its first update, so a fresh server would otherwise show almost nothing (and a
 * dashboard could not tell "none yet" from "not exported"). Labelled metrics appear for the labels known in
 * advance (every event name, every failure and drop reason); close codes appear as they happen. Adds 0 to
 * everything, so it is safe however often it runs. The server runs it when it starts.
 *
 * @since 0.1.0
 * @category metrics
 */
export const register: Effect.Effect<void> = Effect.sync(() => {
  const none: ReadonlyArray<MetricLabel.MetricLabel> = []
  for (const metric of [connectionsTotal, unrouted, sessionsTotal, gaps, pauses]) metric.unsafeUpdate(0, none)
  for (const metric of [connectionsCurrent, sessionsCurrent, queueDepth]) metric.unsafeModify(0, none)
  const labelled = [
    [messages, "event", [...RecallEvent.eventNames, "unknown"]],
    [messageBytes, "event", [...RecallEvent.eventNames, "unknown"]],
    [authFailures, "reason", ["missing", "invalid", "stale", "replayed"] satisfies ReadonlyArray<UpgradeAuth.Failure>],
    [decodeFailures, "reason", Decoder.DecodeErrorReason.literals],
    [dropped, "kind", ["audio", "video"]],
    [sessionsEnded, "reason", ["timeout", "shutdown"]]
  ] as const
  for (const [metric, key, values] of labelled) {
    for (const value of values) metric.unsafeUpdate(0, [MetricLabel.make(key, value)])
  }
})

/**
 * Every `callstream_` metric in the Prometheus text exposition format.
 *
 * @since 0.1.0
 * @category rendering
 */
export const prometheus: Effect.Effect<string> = Effect.sync(() => Prometheus.renderGlobal("callstream_"))

/**
 * Every metric of the global registry (the application's own included) in the Prometheus text format.
 *
 * @since 0.1.0
 * @category rendering
 */
export const prometheusAll: Effect.Effect<string> = Effect.sync(() => Prometheus.renderGlobal())
