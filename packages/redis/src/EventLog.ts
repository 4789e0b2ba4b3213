/**
 * The distributed log the scale-out transport runs on, as a small engine-neutral service: numbered partitions of
 * append-only entries, read by the members of a consumer group, acknowledged once processed, trimmed once
 * acknowledged; named leases with a time to live; and small checkpoint values saved atomically with
 * acknowledgements. `RedisEventLog` implements it on Redis Streams; `MemoryEventLog` implements it in memory for
 * tests of the layers above. An adapter for another log (NATS JetStream, Kafka) would be one more Layer.
 *
 * @example
 * ```ts
 * import { EventLog, MemoryEventLog } from "@callstream/redis"
 * import { Duration, Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const log = yield* EventLog.EventLog
 *   yield* log.append([{ partition: 0, payload: "hello" }])
 *   yield* log.claim({ partition: 0, group: "workers", consumer: "w1" }) // joins the group
 *   const [read] = yield* log.read({ partitions: [0], group: "workers", consumer: "w1", count: 10, block: "1 second" })
 *   yield* log.commit({ partition: 0, group: "workers", lease: "p0", owner: "w1", ids: [read.entries[0].id] })
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(MemoryEventLog.layer)))
 * ```
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * One entry of a partition: the engine's own `id` (what acknowledgements and trimming name), `order` (a fixed-width
 * text that sorts in plain string order as the entries of the partition do, so it can prefix a position) and the
 * payload text.
 *
 * @since 0.2.0
 * @category models
 */
export interface Entry {
  readonly id: string
  readonly order: string
  readonly payload: string
}

/**
 * A payload to append to a partition.
 *
 * @since 0.2.0
 * @category models
 */
export interface Append {
  readonly partition: number
  readonly payload: string
}

/**
 * What one read gave for one partition, in the partition's order.
 *
 * @since 0.2.0
 * @category models
 */
export interface Read {
  readonly partition: number
  readonly entries: ReadonlyArray<Entry>
}

/**
 * What claiming a partition's pending entries gave: the entries, in the partition's order, now pending for the
 * claiming consumer; the ids of pending entries that were no longer in the partition (trimmed before anyone
 * acknowledged them: their content is lost); and the id of the last entry ever delivered to the group, if any
 * (with nothing pending, every entry up to it is acknowledged and may be trimmed).
 *
 * @since 0.2.0
 * @category models
 */
export interface Claimed {
  readonly entries: ReadonlyArray<Entry>
  readonly missing: ReadonlyArray<string>
  readonly delivered: string | undefined
}

/**
 * An acknowledgement and the checkpoints that go with it, applied all together or not at all, and only while
 * `owner` holds the lease `lease`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Commit {
  readonly partition: number
  readonly group: string
  readonly lease: string
  readonly owner: string
  /** Entries of the partition that are processed. */
  readonly ids: ReadonlyArray<string>
  /** Checkpoint values of the partition to save (`string`) or remove (`null`). */
  readonly checkpoints?: ReadonlyArray<readonly [name: string, value: string | null]> | undefined
}

/**
 * Why a log operation failed: the log could not be reached (`Unavailable`: retrying later may work), it refused
 * the operation (`Rejected`), or the options cannot work (`InvalidOptions`).
 *
 * @since 0.2.0
 * @category errors
 */
export class EventLogError extends Data.TaggedError("EventLogError")<{
  readonly reason: "Unavailable" | "Rejected" | "InvalidOptions"
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `${this.reason} (${this.operation}): ${detail}`
  }
}

/**
 * The service.
 *
 * @since 0.2.0
 * @category models
 */
export interface EventLog {
  /** Appends payloads, each to its partition, in the order given (one round trip where the engine allows). */
  readonly append: (entries: ReadonlyArray<Append>) => Effect.Effect<void, EventLogError>
  /**
   * Entries of the given partitions not yet delivered to any member of `group`, at most `count` per partition,
   * waiting up to `block` when there are none. Delivered entries are pending for `consumer` until acknowledged.
   * Fails (`Rejected`) on a partition the group has not joined (see `claim`).
   */
  readonly read: (options: {
    readonly partitions: ReadonlyArray<number>
    readonly group: string
    readonly consumer: string
    readonly count: number
    readonly block: Duration.DurationInput
  }) => Effect.Effect<ReadonlyArray<Read>, EventLogError>
  /**
   * Joins `group` on a partition (creating the group from the partition's first entry if it is new) and makes
   * every entry pending for any member of the group pending for `consumer`: what a consumer that died had read and
   * not acknowledged.
   */
  readonly claim: (options: {
    readonly partition: number
    readonly group: string
    readonly consumer: string
  }) => Effect.Effect<Claimed, EventLogError>
  /** Acknowledges entries and saves checkpoints together; `false` (and nothing done) when the lease is not held. */
  readonly commit: (commit: Commit) => Effect.Effect<boolean, EventLogError>
  /** A checkpoint value of a partition. */
  readonly checkpoint: (partition: number, name: string) => Effect.Effect<Option.Option<string>, EventLogError>
  /** Every checkpoint of a partition, as name and value, in no particular order. */
  readonly checkpoints: (
    partition: number
  ) => Effect.Effect<ReadonlyArray<readonly [name: string, value: string]>, EventLogError>
  /** Removes the entries of a partition up to and including `id`. */
  readonly trim: (partition: number, id: string) => Effect.Effect<void, EventLogError>
  /** How many entries a partition holds. */
  readonly size: (partition: number) => Effect.Effect<number, EventLogError>
  /** Takes the lease `name` for `owner` unless someone else holds it; `true` when `owner` holds it now. */
  readonly acquire: (name: string, owner: string, ttl: Duration.DurationInput) => Effect.Effect<boolean, EventLogError>
  /** Extends a lease `owner` holds; `false` when it does not hold it (any more). */
  readonly renew: (name: string, owner: string, ttl: Duration.DurationInput) => Effect.Effect<boolean, EventLogError>
  /** Gives up a lease `owner` holds (nothing happens when it does not). */
  readonly release: (name: string, owner: string) => Effect.Effect<void, EventLogError>
  /** Who holds a lease now. */
  readonly holder: (name: string) => Effect.Effect<Option.Option<string>, EventLogError>
  /**
   * Says that `member` of the group `name` is alive for `ttl` more, and gives every member alive now (itself
   * included), in plain string order. A member is forgotten `ttl` after its last heartbeat, by the log's clock (not
   * the callers'), or at once by {@link EventLog.depart}. Workers use it to know how many share the partitions.
   *
   * @since 0.2.0
   */
  readonly heartbeat: (
    name: string,
    member: string,
    ttl: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<string>, EventLogError>
  /**
   * Forgets `member` of the group `name` (nothing happens when it is not in it).
   *
   * @since 0.2.0
   */
  readonly depart: (name: string, member: string) => Effect.Effect<void, EventLogError>
}

/**
 * @since 0.2.0
 * @category tags
 */
export const EventLog: Context.Tag<EventLog, EventLog> = Context.GenericTag<EventLog>("@callstream/redis/EventLog")
