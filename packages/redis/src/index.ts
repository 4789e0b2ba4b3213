/**
 * Scale-out on Redis Streams: receivers publish every session's events to a partitioned log instead of recording
 * them, and workers read the log back as an `EventSource`, one owner per partition at a time, so `SessionRecorder`
 * (or any pipeline) runs on workers as it runs in one process.
 *
 * @since 0.2.0
 */
import * as EventLog from "./EventLog.js"
import * as LogEntry from "./LogEntry.js"
import * as MemoryEventLog from "./MemoryEventLog.js"
import * as Publisher from "./Publisher.js"
import * as RedisEventLog from "./RedisEventLog.js"
import * as RedisMetrics from "./RedisMetrics.js"
import * as SessionMerge from "./SessionMerge.js"
import * as WorkerSource from "./WorkerSource.js"

export {
  /**
   * The log the transport runs on, as an engine-neutral service: partitions, consumer groups, acknowledgements,
   * leases and checkpoints.
   *
   * @since 0.2.0
   * @category log
   */
  EventLog,
  /**
   * What one log entry holds (a batch of a session's events, or a worker's note) and which partition a session
   * goes to.
   *
   * @since 0.2.0
   * @category log
   */
  LogEntry,
  /**
   * For tests: an `EventLog` in memory with Redis Streams' semantics, its leases on the Effect `Clock`.
   *
   * @since 0.2.0
   * @category testing
   */
  MemoryEventLog,
  /**
   * What a receiver runs instead of recording: every event of its sessions appended, in order, to its session's
   * partition.
   *
   * @since 0.2.0
   * @category receivers
   */
  Publisher,
  /**
   * The `EventLog` on Redis Streams (Redis 6.2 or newer), with ioredis.
   *
   * @since 0.2.0
   * @category log
   */
  RedisEventLog,
  /**
   * The transport's metrics (`callstream_redis_*`), which a receiver's `GET /metrics` shows next to the server's.
   *
   * @since 0.2.0
   * @category metrics
   */
  RedisMetrics,
  /**
   * Turns a session's entries from however many receivers into the events one process would have given.
   *
   * @since 0.2.0
   * @category workers
   */
  SessionMerge,
  /**
   * What a worker runs: an `EventSource` fed by the log, taking partitions through leases and merging each session.
   *
   * @since 0.2.0
   * @category workers
   */
  WorkerSource
}
