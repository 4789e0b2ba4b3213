/**
 * The transport's metrics, as Effect `Metric`s in the global registry (so a receiver's `GET /metrics` shows them
 * with the server's own). Every name starts with `callstream_redis_`.
 *
 * @example
 * ```ts
 * import { RedisMetrics } from "@callstream/redis"
 * import { Effect, Metric } from "effect"
 *
 * const waiting = Metric.value(RedisMetrics.publishBufferBytes).pipe(Effect.map((state) => state.value))
 * ```
 *
 * @since 0.2.0
 */
import * as Metric from "effect/Metric"

/**
 * 1 while the last operation on the log succeeded, 0 while the log cannot be reached.
 *
 * @since 0.2.0
 * @category metrics
 */
export const available = Metric.gauge("callstream_redis_available", {
  description: "1 while the log answers, 0 while it cannot be reached"
})

/**
 * Failed operations on the log (each retried on the schedule), tagged with the `operation`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const failures = Metric.counter("callstream_redis_failures_total", {
  description: "Failed operations on the log, by operation (each is retried)",
  incremental: true
})

/**
 * Events a publisher appended to the log.
 *
 * @since 0.2.0
 * @category metrics
 */
export const publishedEvents = Metric.counter("callstream_redis_published_events_total", {
  description: "Session events appended to the log",
  incremental: true
})

/**
 * Entries a publisher appended to the log (a session's events, coalesced).
 *
 * @since 0.2.0
 * @category metrics
 */
export const publishedEntries = Metric.counter("callstream_redis_published_entries_total", {
  description: "Entries appended to the log",
  incremental: true
})

/**
 * Bytes of entries a publisher holds until the log takes them; the input is held back at the limit.
 *
 * @since 0.2.0
 * @category metrics
 */
export const publishBufferBytes = Metric.gauge("callstream_redis_publish_buffer_bytes", {
  description: "Bytes of entries waiting for the log"
})

/**
 * Partitions a worker owns now.
 *
 * @since 0.2.0
 * @category metrics
 */
export const partitionsOwned = Metric.gauge("callstream_redis_partitions_owned", {
  description: "Partitions this worker owns"
})

/**
 * Partitions a worker took (at start or from a worker that stopped renewing its lease).
 *
 * @since 0.2.0
 * @category metrics
 */
export const partitionsTaken = Metric.counter("callstream_redis_partitions_taken_total", {
  description: "Partitions taken by this worker",
  incremental: true
})

/**
 * Partitions a worker lost because it could not renew their lease in time.
 *
 * @since 0.2.0
 * @category metrics
 */
export const partitionsLost = Metric.counter("callstream_redis_partitions_lost_total", {
  description: "Partitions whose lease this worker could not renew in time",
  incremental: true
})

/**
 * Partitions a worker handed over to another worker that joined (see `WorkerSource.Options.rebalance`).
 *
 * @since 0.2.0
 * @category metrics
 */
export const partitionsHandedOver = Metric.counter("callstream_redis_partitions_handed_over_total", {
  description: "Partitions this worker handed over to another worker, beyond its share",
  incremental: true
})

/**
 * The partitions this worker should own: its share among the live workers of its group.
 *
 * @since 0.2.0
 * @category metrics
 */
export const partitionsShare = Metric.gauge("callstream_redis_partitions_share", {
  description: "Partitions this worker should own, its share among the live workers"
})

/**
 * Live workers of this worker's group, as it last saw them.
 *
 * @since 0.2.0
 * @category metrics
 */
export const workersLive = Metric.gauge("callstream_redis_workers_live", {
  description: "Live workers of this worker's group, as it last saw them"
})

/**
 * Entries a worker read, claimed ones included.
 *
 * @since 0.2.0
 * @category metrics
 */
export const entriesRead = Metric.counter("callstream_redis_entries_read_total", {
  description: "Entries read by this worker",
  incremental: true
})

/**
 * Pending entries a worker claimed when it took a partition.
 *
 * @since 0.2.0
 * @category metrics
 */
export const entriesClaimed = Metric.counter("callstream_redis_entries_claimed_total", {
  description: "Pending entries claimed when taking a partition",
  incremental: true
})

/**
 * Entries a worker acknowledged.
 *
 * @since 0.2.0
 * @category metrics
 */
export const entriesAcknowledged = Metric.counter("callstream_redis_entries_acknowledged_total", {
  description: "Entries acknowledged once their events were processed",
  incremental: true
})

/**
 * Batches a worker skipped because it had seen them already (a receiver's retried write).
 *
 * @since 0.2.0
 * @category metrics
 */
export const duplicates = Metric.counter("callstream_redis_duplicate_entries_total", {
  description: "Entries skipped as already seen",
  incremental: true
})

/**
 * Events that never reached a worker (trimmed by the safety cap before anyone read them), tagged with the `kind`
 * (`audio`, `video`, `other`).
 *
 * @since 0.2.0
 * @category metrics
 */
export const lostEvents = Metric.counter("callstream_redis_lost_events_total", {
  description: "Events trimmed from the log before a worker read them, by kind",
  incremental: true
})

/**
 * Entries a worker could not read (not written by a compatible publisher).
 *
 * @since 0.2.0
 * @category metrics
 */
export const invalidEntries = Metric.counter("callstream_redis_invalid_entries_total", {
  description: "Entries that could not be decoded (acknowledged and skipped)",
  incremental: true
})
