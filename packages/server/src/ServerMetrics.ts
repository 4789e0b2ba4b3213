/**
 * The server's metrics, as Effect `Metric`s in the global registry, and their rendering in the Prometheus text
 * format (what `GET /metrics` answers). Every name starts with `callstream_`.
 *
 * @example
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
import * as SessionEvent from "@callstream/core/SessionEvent"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Prometheus from "./internal/prometheus.js"
import * as UpgradeAuth from "./UpgradeAuth.js"

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
 * Frames that did not decode, tagged with the `reason` (`InvalidJson`, `InvalidShape`, `InternalError`). Counts
 * frames that name no session too.
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
 * Frames refused because the session they name could not start or join (a session limit was reached).
 *
 * @since 0.2.0
 * @category metrics
 */
export const refused = Metric.counter("callstream_refused_frames_total", {
  description: "Frames refused because a session limit was reached",
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
 * Times a connection's socket was paused because its session's buffer was full or the memory budget was reached.
 *
 * @since 0.1.0
 * @category metrics
 */
export const pauses = Metric.counter("callstream_backpressure_pauses_total", {
  description: "Socket pauses because a session buffer was full or the memory budget reached",
  incremental: true
})

/**
 * Bytes of frames waiting in session buffers for their consumers (what the memory budget bounds).
 *
 * @since 0.2.0
 * @category metrics
 */
export const queueBytes = Metric.gauge("callstream_queue_bytes", {
  description: "Bytes of frames buffered for session consumers"
})

/**
 * The memory budget: the most bytes all session buffers may hold before media is shed and sockets pause.
 *
 * @since 0.2.0
 * @category metrics
 */
export const memoryBudget = Metric.gauge("callstream_memory_budget_bytes", {
  description: "Bytes all session buffers may hold before media is shed and sockets pause"
})

/**
 * Connections paused now: read no further until their sessions' consumers catch up.
 *
 * @since 0.2.0
 * @category metrics
 */
export const pausedConnections = Metric.gauge("callstream_paused_connections", {
  description: "Connections paused now by backpressure"
})

/**
 * The server's limits that were reached, tagged with the `limit` (see {@link limits}): each refused upgrade, frame
 * or signature id, and each time a buffer or the memory budget filled up.
 *
 * @since 0.2.0
 * @category metrics
 */
export const limitReached = Metric.counter("callstream_limit_reached_total", {
  description: "Times a server limit was reached, by limit",
  incremental: true
})

/**
 * The limits {@link limitReached} counts: `sessions` and `sessions_per_connection` (a frame refused),
 * `connections` and `connections_per_address` (an upgrade answered 503), `tcp_connections` (a TCP connection
 * dropped before any request), `buffer_size` and `buffer_bytes` (a session's buffer filled up), `memory_budget` (all
 * buffers together reached the budget), `remembered_ids` (a signature id forgotten before it went stale),
 * `log_lines` (log lines suppressed in a flood).
 *
 * @since 0.2.0
 * @category metrics
 */
export const limits = [
  "sessions",
  "sessions_per_connection",
  "connections",
  "connections_per_address",
  "tcp_connections",
  "buffer_size",
  "buffer_bytes",
  "memory_budget",
  "remembered_ids",
  "log_lines"
] as const

/**
 * One of {@link limits}.
 *
 * @since 0.2.0
 * @category metrics
 */
export type Limit = typeof limits[number]

/**
 * Signature ids remembered now, to refuse replayed signed upgrades.
 *
 * @since 0.2.0
 * @category metrics
 */
export const rememberedIds = Metric.gauge("callstream_remembered_ids", {
  description: "Signature ids remembered to refuse replayed upgrades"
})

/**
 * Failures nothing anticipated, caught in a socket or HTTP callback instead of taking the process down, tagged
 * with the `callback` (`message`, `close`, `error`, `upgrade`, `request`, `heartbeat`, `timer`).
 *
 * @since 0.2.0
 * @category metrics
 */
export const internalErrors = Metric.counter("callstream_internal_errors_total", {
  description: "Unexpected failures caught in socket and HTTP callbacks, by callback",
  incremental: true
})

/**
 * The callbacks {@link internalErrors} names.
 *
 * @since 0.2.0
 * @category metrics
 */
export const callbacks = ["message", "close", "error", "upgrade", "request", "heartbeat", "timer"] as const

/**
 * Log lines left out because more came in a second than the server logs.
 *
 * @since 0.2.0
 * @category metrics
 */
export const logLinesSuppressed = Metric.counter("callstream_log_lines_suppressed_total", {
  description: "Log lines suppressed during a flood",
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
  for (const metric of [connectionsTotal, unrouted, refused, sessionsTotal, gaps, pauses, logLinesSuppressed]) {
    metric.unsafeUpdate(0, none)
  }
  for (
    const metric of [connectionsCurrent, sessionsCurrent, queueDepth, queueBytes, pausedConnections, rememberedIds]
  ) {
    metric.unsafeModify(0, none)
  }
  const labelled = [
    [messages, "event", [...RecallEvent.eventNames, "unknown"]],
    [messageBytes, "event", [...RecallEvent.eventNames, "unknown"]],
    [authFailures, "reason", UpgradeAuth.failures],
    [decodeFailures, "reason", Decoder.DecodeErrorReason.literals],
    [dropped, "kind", SessionEvent.MediaKind.literals],
    [sessionsEnded, "reason", ["timeout", "shutdown"]],
    [limitReached, "limit", limits],
    [internalErrors, "callback", callbacks]
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
