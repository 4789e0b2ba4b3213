/**
 * @since 0.2.0
 */
export * as EventLog from "./EventLog.js"
/**
 * @since 0.2.0
 */
export * as LogEntry from "./LogEntry.js"
/**
 * @since 0.2.0
 */
export * as MemoryEventLog from "./MemoryEventLog.js"
/**
 * @since 0.2.0
 */
export * as Publisher from "./Publisher.js"
/**
 * @since 0.2.0
 */
export * as RedisEventLog from "./RedisEventLog.js"
/**
 * @since 0.2.0
 */
export * as RedisMetrics from "./RedisMetrics.js"
/**
 * @since 0.2.0
 */
export * as SessionMerge from "./SessionMerge.js"
/**
 * @since 0.2.0
 */
export * as WorkerSource from "./WorkerSource.js"
