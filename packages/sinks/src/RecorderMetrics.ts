/**
 * The session recorder's metrics, as Effect `Metric`s in the global registry. Every name starts with
 * `callstream_recorder_`, so a server that renders the registry's `callstream_` metrics (as `GET /metrics` does)
 * shows them next to its own.
 *
 * @example
 * ```ts
 * import { RecorderMetrics } from "@callstream/sinks"
 * import { Effect, Metric } from "effect"
 *
 * const failedWrites = Metric.value(RecorderMetrics.writeFailures).pipe(Effect.map((state) => state.count))
 * ```
 *
 * @since 0.2.0
 */
import * as Metric from "effect/Metric"

/**
 * Sessions being recorded now.
 *
 * @since 0.2.0
 * @category metrics
 */
export const sessions = Metric.gauge("callstream_recorder_sessions_current", {
  description: "Sessions being recorded now"
})

/**
 * Writes and opens of session files that failed (a full or read-only disk, an I/O error). Each file's trouble is
 * also logged once when it starts and once when it ends, and counted in its `session.json`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const writeFailures = Metric.counter("callstream_recorder_write_failures_total", {
  description: "Writes and opens of session files that failed",
  incremental: true
})

/**
 * Bytes of media (audio samples, video frames) given up because their file could not be written for too long.
 * The tape and the control log are never given up: the session waits for the disk instead.
 *
 * @since 0.2.0
 * @category metrics
 */
export const lostBytes = Metric.counter("callstream_recorder_lost_bytes_total", {
  description: "Bytes of media given up because their file could not be written",
  incremental: true
})

/**
 * Track files (WAV, H.264) closed to stay within a session's limit of open files, to be opened again when needed.
 *
 * @since 0.2.0
 * @category metrics
 */
export const handlesClosed = Metric.counter("callstream_recorder_handles_closed_total", {
  description: "Track files closed to stay within a session's limit of open files",
  incremental: true
})

/**
 * Tape lines replayed through the reducers when a recorder continued a session folder.
 *
 * @since 0.2.0
 * @category metrics
 */
export const replayedLines = Metric.counter("callstream_recorder_replayed_lines_total", {
  description: "Tape lines replayed when a recorder continued a session folder",
  incremental: true
})

/**
 * Events skipped because their position was at or before one already recorded (a source delivering again what it
 * delivered before a failover).
 *
 * @since 0.2.0
 * @category metrics
 */
export const redeliveriesSkipped = Metric.counter("callstream_recorder_redeliveries_skipped_total", {
  description: "Events skipped because their position was already recorded",
  incremental: true
})

/**
 * The seconds between two refreshes of a session's derived files, as the recorder last chose them (it grows with
 * the number of sessions and the work of their refreshes; see `SessionRecorder.Options.exportFilesPerSecond`).
 *
 * @since 0.2.0
 * @category metrics
 */
export const exportInterval = Metric.gauge("callstream_recorder_export_interval_seconds", {
  description: "Seconds between two refreshes of a session's derived files, as last chosen"
})

/**
 * Bytes a recorder of one flat Stream (`SessionRecorder.recordEvents`, `run`, `layer`; `callstream serve`) has
 * collected and not written yet, all its sessions together (output waiting for its flush, and events held for
 * sessions being set up), sampled every second. It stays near a flush interval's worth of the meetings' data; when
 * it nears the recorder's `maxPendingTotal`, the recorder is behind its disk or its CPU, and the Stream is about to
 * wait. Several recorders in one process add up.
 *
 * @since 0.2.0
 * @category metrics
 */
export const pendingBytes = Metric.gauge("callstream_recorder_pending_bytes", {
  description: "Bytes collected by the recorder and not written yet, all sessions together"
})
