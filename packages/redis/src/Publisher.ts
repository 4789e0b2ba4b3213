/**
 * What a receiver runs instead of recording: every event of its sessions (each Recall message with its raw text,
 * and every control event) is appended, in order, to the log partition of its session (see
 * `LogEntry.partitionOf`), for workers to record. A session's audio and video wait up to `coalesce` (default
 * 500 ms) to share an entry, which cuts the entries written per second about tenfold for a typical meeting;
 * anything else is written at once (with the media before it). Writes are pipelined, up to `maxBatch` entries per
 * round trip.
 *
 * Entries wait in a buffer of at most `bufferBytes` (default 32 MiB) until the log takes them. When it is full
 * (the log is slow or gone), the publisher stops reading its input: the server's own buffer policy then applies,
 * so transcript, participant and control events pause their sockets (TCP pushes back on Recall) and audio and
 * video are shed with a `Dropped` event, which is published in turn. A failed write is retried, in order, on
 * `retry` (by default 100 ms doubling to 5 s, forever), logged once when the log goes away and once when it is
 * back, and counted (`callstream_redis_failures_total`, `callstream_redis_available`).
 *
 * Each publisher also holds a liveness lease (`receiver:<id>`) while it runs, so workers can tell when a receiver
 * died with connections open.
 *
 * @example
 * ```ts
 * import { Publisher, RedisEventLog } from "@callstream/redis"
 * import { RecallServer } from "@callstream/server"
 * import { Layer, Redacted } from "effect"
 *
 * // a receiver: the server's events go to Redis; at shutdown the server stops first, then the publisher drains
 * const receiver = Publisher.layerFrom(RecallServer.layerConfig(), { partitions: 16 }).pipe(
 *   Layer.provide(RedisEventLog.layer({ url: Redacted.make("redis://127.0.0.1:6379") }))
 * )
 *
 * // runs until interrupted: `NodeRuntime.runMain(main)` from @effect/platform-node
 * const main = Layer.launch(receiver)
 * ```
 *
 * @since 0.2.0
 */
import * as EventSource from "@callstream/core/EventSource"
import type * as SessionEvent from "@callstream/core/SessionEvent"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as EventLog from "./EventLog.js"
import { Availability } from "./internal/availability.js"
import { Batcher, type Ready } from "./internal/batcher.js"
import * as RedisMetrics from "./RedisMetrics.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** How many partitions the deployment has; every receiver and worker must agree. Default 16. */
  readonly partitions?: number | undefined
  /** This receiver's id, unique among receivers (a new one per process). Default a random UUID. */
  readonly receiver?: string | undefined
  /** How long audio and video may wait to share an entry. Default 500 ms; 0 writes each chunk of input at once. */
  readonly coalesce?: Duration.DurationInput | undefined
  /** Bytes of entries held until the log takes them; the input is held back beyond. Default 32 MiB. */
  readonly bufferBytes?: number | undefined
  /** Most entries written per round trip. Default 256. */
  readonly maxBatch?: number | undefined
  /** An entry is closed at this many bytes of events. Default 1 MiB. */
  readonly maxEntryBytes?: number | undefined
  /** An entry is closed at this many events. Default 512. */
  readonly maxEntryEvents?: number | undefined
  /** How failed writes are retried. Default 100 ms doubling up to 5 s, forever. */
  readonly retry?: Schedule.Schedule<unknown, EventLog.EventLogError> | undefined
  /** The time to live of the receiver's liveness lease (renewed at a third of it). Default 15 s. */
  readonly livenessTtl?: Duration.DurationInput | undefined
}

/**
 * The default number of partitions.
 *
 * @since 0.2.0
 * @category constants
 */
export const DEFAULT_PARTITIONS = 16

/**
 * The name of a receiver's liveness lease.
 *
 * @since 0.2.0
 * @category constants
 */
export const livenessLease = (receiver: string): string => `receiver:${receiver}`

/**
 * The default retry schedule: 100 ms doubling up to 5 s, forever.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultRetry: Schedule.Schedule<unknown, EventLog.EventLogError> = Schedule.exponential(
  Duration.millis(100)
).pipe(Schedule.union(Schedule.spaced(Duration.seconds(5))))

/**
 * Appends every event of `events` to the log, returning once the input has ended and everything is written. Fails
 * only when `retry` gives up on a write.
 *
 * @since 0.2.0
 * @category publishing
 */
export const run = <E, R>(
  events: Stream.Stream<SessionEvent.SessionEvent, E, R>,
  options: Options = {}
): Effect.Effect<void, E | EventLog.EventLogError, EventLog.EventLog | R> =>
  Effect.scoped(Effect.gen(function*() {
    const log = yield* EventLog.EventLog
    const receiver = options.receiver ?? Crypto.randomUUID()
    const partitions = options.partitions ?? DEFAULT_PARTITIONS
    const coalesceMs = Duration.toMillis(options.coalesce ?? Duration.millis(500))
    const bufferBytes = Math.max(1, options.bufferBytes ?? 32 * 1024 * 1024)
    const maxBatch = Math.max(1, options.maxBatch ?? 256)
    const retry = options.retry ?? defaultRetry
    const livenessTtl = Duration.decode(options.livenessTtl ?? Duration.seconds(15))
    const availability = new Availability(`publisher ${receiver}`)
    const batcher = new Batcher({
      receiver,
      partitions,
      coalesceMs,
      maxEntryBytes: options.maxEntryBytes ?? 1024 * 1024,
      maxEntryEvents: options.maxEntryEvents ?? 512
    })

    const gate = yield* Effect.makeSemaphore(bufferBytes)
    const lock = yield* Effect.makeSemaphore(1)
    const queue = yield* Queue.unbounded<Ready>()
    let buffered = 0
    const weight = (ready: Ready) => Math.min(bufferBytes, ready.payload.length)

    // hands what the batcher closed to the writer, in order; waits while the buffer is full
    const enqueue = lock.withPermits(1)(Effect.suspend(() => {
      const ready = batcher.ready
      batcher.ready = []
      return Effect.forEach(ready, (entry) =>
        Effect.zipRight(
          gate.take(weight(entry)),
          Effect.suspend(() => {
            buffered += entry.payload.length
            return Effect.zipRight(Metric.set(RedisMetrics.publishBufferBytes, buffered), Queue.offer(queue, entry))
          })
        ), { discard: true })
    }))

    const writer = Effect.gen(function*() {
      const batch = Chunk.toReadonlyArray(yield* Queue.takeBetween(queue, 1, maxBatch))
      yield* availability.retry("append", log.append(batch), retry)
      let bytes = 0
      let count = 0
      for (const entry of batch) {
        bytes += entry.payload.length
        count += entry.events
      }
      buffered -= bytes
      yield* Metric.set(RedisMetrics.publishBufferBytes, buffered)
      yield* Metric.incrementBy(RedisMetrics.publishedEntries, batch.length)
      yield* Metric.incrementBy(RedisMetrics.publishedEvents, count)
      yield* gate.release(batch.reduce((n, entry) => n + weight(entry), 0))
    }).pipe(Effect.forever)
    const writing = yield* Effect.forkScoped(writer)

    // liveness: taken at start (a clear error when the log is unreachable), renewed while running, released at the end
    const lease = livenessLease(receiver)
    yield* log.acquire(lease, receiver, livenessTtl)
    yield* Effect.addFinalizer(() => Effect.ignore(log.release(lease, receiver)))
    yield* availability.retry("renew", log.acquire(lease, receiver, livenessTtl), retry).pipe(
      Effect.delay(Duration.times(livenessTtl, 1 / 3)),
      Effect.forever,
      Effect.forkScoped
    )

    if (coalesceMs > 0) {
      yield* Clock.currentTimeMillis.pipe(
        Effect.flatMap((now) => Effect.sync(() => batcher.flushDue(now))),
        Effect.zipRight(enqueue),
        Effect.delay(Duration.millis(Math.max(10, coalesceMs / 4))),
        Effect.forever,
        Effect.forkScoped
      )
    }

    yield* Effect.logInfo(`Publishing to ${partitions} partitions`).pipe(Effect.annotateLogs({ receiver }))
    yield* Stream.runForEachChunk(events, (chunk) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        for (const event of chunk) batcher.add(event, now)
        batcher.flushUrgent()
        return enqueue
      }))
    batcher.flushAll()
    yield* enqueue
    // everything is written once the writer has given every byte back
    yield* Effect.raceFirst(
      gate.withPermits(bufferBytes)(Effect.void),
      Fiber.join(writing)
    )
  }))

/**
 * Publishes the `EventSource` of the Layer `source` (e.g. `RecallServer.layerConfig()`) for as long as the Layer
 * lives, and provides the rest of what `source` provides (not its `EventSource`: its events go to the log). When
 * the Layer closes, `source` is closed first (a server shuts down and ends its sessions), then the publisher writes
 * what is left and stops.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerFrom = <ROut, E, RIn>(
  source: Layer.Layer<ROut | EventSource.EventSource, E, RIn>,
  options: Options = {}
): Layer.Layer<Exclude<ROut, EventSource.EventSource>, E, RIn | EventLog.EventLog> =>
  Layer.scopedContext(Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(source, scope).pipe(
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
    const log = yield* EventLog.EventLog
    const publishing = yield* run(Context.get(context, EventSource.EventSource).events, options).pipe(
      Effect.provideService(EventLog.EventLog, log),
      Effect.tapErrorCause((cause) => Effect.logError("Publishing stopped", cause)),
      Effect.forkDaemon
    )
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(Scope.close(scope, Exit.void), Effect.ignore(Fiber.join(publishing)))
    )
    return Context.omit(EventSource.EventSource)(context) as Context.Context<Exclude<ROut, EventSource.EventSource>>
  }))
