/**
 * What a worker runs: an `EventSource` fed by the log, so `SessionRecorder` (or any pipeline) runs on a worker as
 * it runs in one process. The worker owns partitions through leases (one owner per partition at a time; renewed
 * while it lives, released when it stops), reads them as a member of a consumer group, merges each session's
 * entries from every receiver into one session (`SessionMerge`) and emits the events, in order per session.
 *
 * Every event carries a `position` (core's `SessionEvent.Position`): the entry's order and the event's index in
 * what the entry gave, so positions of a session increase in plain string order. Entries are acknowledged only
 * when the consumer says so: `commit(session, position)` states that everything of `session` up to `position` is
 * durably processed. Until then they stay pending; if the worker dies, the worker that takes the partition over
 * (once the lease's time to live has passed) claims them, continues each session from the merge state saved with
 * the last acknowledgement, and emits the same events at the same positions again. A consumer that stores the
 * position of the last event it applied with its output, and skips events at or before it, so records each event
 * exactly once.
 *
 * Acknowledged entries are trimmed from the log (`XTRIM MINID`, at most once a `tick`), and when a session has
 * ended its checkpoint is removed with the acknowledgement of its end: nothing of it stays in the log.
 *
 * When the log cannot be reached, reads and lease renewals are retried on `retry` and said so in logs and metrics;
 * a partition whose lease could not be renewed within its time to live is given up (its events already emitted
 * can no longer be committed, and its successor emits them again).
 *
 * The workers of a group share the partitions evenly (`Options.rebalance`): one that holds more than its share
 * hands a partition over by ending its sessions here with `SessionEnded("handover")`, each with a position after
 * the session's last event; a consumer commits that position once it has saved what it keeps of the session, and
 * the partition is released for its next owner when everything is committed.
 *
 * @example
 * ```ts
 * import { EventSource } from "@callstream/core"
 * import { RedisEventLog, WorkerSource } from "@callstream/redis"
 * import { Effect, Redacted, Stream } from "effect"
 *
 * // a consumer that acknowledges each event once it handled it
 * const program = Effect.gen(function*() {
 *   const worker = yield* WorkerSource.WorkerSource
 *   yield* worker.events.pipe(
 *     Stream.runForEach((event) =>
 *       Effect.zipRight(Effect.log(event._tag), worker.commit(event.session, event.position!))
 *     )
 *   )
 * })
 *
 * // runs until interrupted: `Effect.runFork(main)`, or `NodeRuntime.runMain(main)` from @effect/platform-node
 * const main = program.pipe(
 *   Effect.provide(WorkerSource.layer({ partitions: 16 })),
 *   Effect.provide(RedisEventLog.layer({ url: Redacted.make("redis://127.0.0.1:6379") }))
 * )
 * ```
 *
 * @since 0.2.0
 */
import * as EventSource from "@callstream/core/EventSource"
import * as Printable from "@callstream/core/Printable"
import * as SessionEvent from "@callstream/core/SessionEvent"
import type * as SessionKey from "@callstream/core/SessionKey"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as EventLog from "./EventLog.js"
import { Availability } from "./internal/availability.js"
import { checkpointName, decodeState, PartitionState, SESSION_CHECKPOINT } from "./internal/partition.js"
import * as Shares from "./internal/shares.js"
import * as LogEntry from "./LogEntry.js"
import * as Publisher from "./Publisher.js"
import * as RedisMetrics from "./RedisMetrics.js"
import * as SessionMerge from "./SessionMerge.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** How many partitions the deployment has; every receiver and worker must agree. Default 16. */
  readonly partitions?: number | undefined
  /** The consumer group workers share. Default `callstream`. */
  readonly group?: string | undefined
  /** This worker's id, unique among workers. Default a random UUID. */
  readonly consumer?: string | undefined
  /** Most partitions this worker owns at once. Default all of them. */
  readonly maxPartitions?: number | undefined
  /**
   * Whether the workers of a group share the partitions among them (default true). Each worker says it is alive
   * every `tick` (`EventLog.heartbeat`, forgotten after `leaseTtl`), and every worker computes each one's share
   * alike: as even as the workers' `maxPartitions` allow. A worker takes free partitions up to its share and hands
   * what it holds beyond it over, one partition at a time: it stops reading the partition, ends each of its
   * sessions here with `SessionEnded("handover")` after the events it emitted, and once the consumer has committed
   * everything it read of the partition, releases the lease for the worker that is short of its share. So a
   * worker that joins takes load off the others within seconds, and one that stops leaves its share to the
   * others. With `false`, a worker takes every free partition up to `maxPartitions` and keeps what it holds until
   * it stops.
   *
   * @since 0.2.0
   */
  readonly rebalance?: boolean | undefined
  /** Time to live of a partition lease: how long a dead worker's partitions wait for a successor. Default 10 s. */
  readonly leaseTtl?: Duration.DurationInput | undefined
  /**
   * How often leases are renewed and free ones taken, acknowledgements retried, the log trimmed. Default 1 s, or a
   * fifth of `leaseTtl` when that is shorter (a lease is renewed several times within its time to live).
   */
  readonly tick?: Duration.DurationInput | undefined
  /** How long a session lasts with no connection on any receiver. Default 95 s, as the server's. */
  readonly sessionTimeout?: Duration.DurationInput | undefined
  /**
   * How much longer than `sessionTimeout` a worker waits for a receiver's own timeout before it ends a session
   * itself (a receiver that died unnoticed never times out). Not waited for once every receiver that had the
   * session ended its side of it (shut down) or was noted lost. Default 5 s.
   */
  readonly expireGrace?: Duration.DurationInput | undefined
  /** Entries read per partition and round trip. Default 100. */
  readonly readCount?: number | undefined
  /** How long a read waits for new entries. Default 1 s. */
  readonly block?: Duration.DurationInput | undefined
  /** Events held for the consumer; reading stops while it is full. Default 1024. */
  readonly bufferSize?: number | undefined
  /** How failed reads and renewals are retried. Default 100 ms doubling up to 5 s, forever. */
  readonly retry?: Schedule.Schedule<unknown, EventLog.EventLogError> | undefined
}

/**
 * The running worker source.
 *
 * @since 0.2.0
 * @category tags
 */
export class WorkerSource extends Context.Tag("@callstream/redis/WorkerSource")<WorkerSource, {
  /** This worker's id. */
  readonly id: string
  /** Every owned session's events, each with its `position`. Ends when the worker stops. */
  readonly events: Stream.Stream<SessionEvent.SessionEvent>
  /**
   * Says that everything of `session` up to and including `position` is durably processed: the entries it came
   * from are acknowledged (with the session's merge state) and later trimmed. Never fails: when the log cannot
   * be reached now, a later tick acknowledges.
   */
  readonly commit: (session: SessionKey.SessionKey, position: string) => Effect.Effect<void>
  /** The partitions owned now. */
  readonly partitions: Effect.Effect<ReadonlyArray<number>>
  /**
   * Waits until this worker first gives a partition up while it runs (its lease could not be renewed in time, or
   * another worker holds it), and returns that partition. A partition handed over (see `Options.rebalance`) is not
   * lost: its consumer finished its sessions first. Its sessions are then continued by the worker that takes it, from
   * its entries not acknowledged yet: a consumer that keeps state or files for them must stop working on them at
   * once, writing nothing more (`callstream worker` stops its process, as a SIGKILL would, which a takeover already
   * handles).
   */
  readonly lost: Effect.Effect<number>
}>() {}

/**
 * The name of a partition's lease.
 *
 * @since 0.2.0
 * @category constants
 */
export const partitionLease = (partition: number): string => `partition:${partition}`

/**
 * The name of the group of live workers (see `EventLog.heartbeat`) for a consumer group.
 *
 * @since 0.2.0
 * @category constants
 */
export const workersGroup = (group: string): string => `workers:${group}`

/** How long a handover may wait for the consumer's commits before the worker says so (and goes on waiting). */
const HANDOVER_SLOW_MS = 60_000

/**
 * The position of a session's handover: after the last event emitted of it (that position extended) and before
 * any later event's (positions are of fixed width).
 */
const handoverPosition = (last: string): string => `${last}h`

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

const decodeControl = Schema.decodeUnknownSync(SessionEvent.ControlEvent)
const encodeControl = Schema.encodeSync(SessionEvent.ControlEvent)

const withPosition = (event: SessionEvent.SessionEvent, position: string): SessionEvent.SessionEvent =>
  event._tag === "Message" ? { ...event, position } : decodeControl({ ...encodeControl(event), position })

/**
 * Starts the worker in the current Scope: the first round of leases is taken before it returns (a log that cannot
 * be reached is an error here), one `tick` after it first said it is alive when it shares the partitions (so
 * workers started together take their shares at once); closing the Scope acknowledges what was committed and
 * releases every lease.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const log = yield* EventLog.EventLog
  const id = options.consumer ?? Crypto.randomUUID()
  const partitions = options.partitions ?? Publisher.DEFAULT_PARTITIONS
  const group = options.group ?? "callstream"
  const maxPartitions = options.maxPartitions ?? partitions
  const rebalance = options.rebalance ?? true
  const member = Shares.encode({ id, maxPartitions })
  const leaseTtl = Duration.decode(options.leaseTtl ?? Duration.seconds(10))
  const ttlMs = Duration.toMillis(leaseTtl)
  const tick = Duration.decode(options.tick ?? Duration.millis(Math.min(1000, ttlMs / 5)))
  const merge: SessionMerge.Options = {
    sessionTimeout: Duration.toMillis(options.sessionTimeout ?? Duration.seconds(95))
  }
  const expireAfter = merge.sessionTimeout + Duration.toMillis(options.expireGrace ?? Duration.seconds(5))
  const readCount = Math.max(1, options.readCount ?? 100)
  const block = Duration.decode(options.block ?? Duration.seconds(1))
  const retry = options.retry ?? Publisher.defaultRetry
  const availability = new Availability(`worker ${id}`)
  const annotations = { worker: id }

  const owned = new Map<number, PartitionState>()
  // the partitions this worker should own now (see `Options.rebalance`)
  let share = maxPartitions
  const lost = yield* Deferred.make<number>()
  const locks = new Map<number, Effect.Semaphore>()
  const lockOf = (partition: number) => {
    let lock = locks.get(partition)
    if (lock === undefined) {
      lock = Effect.unsafeMakeSemaphore(1)
      locks.set(partition, lock)
    }
    return lock
  }
  const out = yield* Effect.acquireRelease(
    Queue.bounded<SessionEvent.SessionEvent>(Math.max(1, options.bufferSize ?? 1024)),
    Queue.shutdown
  )

  // -- leases -------------------------------------------------------------------

  const lose = (state: PartitionState, why: string) =>
    Effect.suspend(() => {
      if (owned.get(state.partition) !== state) return Effect.void
      owned.delete(state.partition)
      return Effect.all([
        Deferred.succeed(lost, state.partition),
        Metric.increment(RedisMetrics.partitionsLost),
        Metric.set(RedisMetrics.partitionsOwned, owned.size),
        Effect.logWarning(`Gave up partition ${state.partition}: ${why}`)
      ], { discard: true })
    })

  const leases = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    for (const state of Array.from(owned.values())) {
      const renewed = yield* log.renew(partitionLease(state.partition), id, leaseTtl).pipe(
        Effect.tapError((error) => availability.failure("renew", error)),
        Effect.option
      )
      if (Option.isSome(renewed) && renewed.value) {
        state.validUntil = now + ttlMs
        yield* availability.success
      } else if (Option.isSome(renewed)) {
        yield* lose(state, "its lease is gone or held by another worker")
      } else if (now >= state.validUntil) {
        yield* lose(state, "its lease could not be renewed in time")
      }
    }
    for (let partition = 0; partition < partitions && owned.size < share; partition++) {
      if (owned.has(partition)) continue
      const taken = yield* log.acquire(partitionLease(partition), id, leaseTtl)
      if (!taken) continue
      owned.set(partition, new PartitionState(partition, now + ttlMs))
      yield* Metric.increment(RedisMetrics.partitionsTaken)
      yield* Effect.logInfo(`Took partition ${partition}`)
    }
    yield* Metric.set(RedisMetrics.partitionsOwned, owned.size)
  }).pipe(Effect.annotateLogs(annotations))

  // -- sharing ---------------------------------------------------------------------

  // says this worker is alive and learns its share; when the log cannot be reached, the share stays as it was
  const heartbeat = Effect.gen(function*() {
    if (!rebalance) return
    const entries = yield* log.heartbeat(workersGroup(group), member, leaseTtl)
    const members = entries.flatMap((entry) => Shares.decode(entry) ?? [])
    share = Shares.shares(partitions, members).get(id) ?? maxPartitions
    yield* Metric.set(RedisMetrics.workersLive, members.length)
    yield* Metric.set(RedisMetrics.partitionsShare, share)
  })

  // beyond its share, the worker starts handing over its highest partition (one at a time); the reading fiber
  // stops reading it and emits the handover after what it emitted of it (see `handOver`)
  const startHandover = Effect.gen(function*() {
    const held = Array.from(owned.values())
    if (!rebalance || held.some((state) => state.draining) || held.length <= share) return
    const state = held.reduce((a, b) => b.partition > a.partition ? b : a)
    state.draining = true
    state.waitedSince = yield* Clock.currentTimeMillis
    yield* Effect.logInfo(
      `Handing partition ${state.partition} over: ${held.length} owned, this worker's share is ${share}`
    )
  }).pipe(Effect.annotateLogs(annotations))

  // on the reading fiber, so nothing of the partition is emitted after it: each session it emitted events of and
  // that did not end is ended here, for the consumer to finish it and commit
  const handOver = (state: PartitionState) =>
    Effect.gen(function*() {
      if (state.handedOver) return
      state.handedOver = true
      const at = yield* Clock.currentTimeMillis
      const ends: Array<SessionEvent.SessionEnded> = []
      for (const [session, last] of state.emitted) {
        const position = handoverPosition(last)
        state.handovers.set(session, position)
        ends.push(new SessionEvent.SessionEnded({ session, at, position, reason: "handover" }))
      }
      state.emitted.clear()
      if (ends.length > 0) yield* Queue.offerAll(out, ends)
    })

  // once everything read of a partition being handed over is acknowledged, its lease is released
  const finishHandover = (state: PartitionState) =>
    lockOf(state.partition).withPermits(1)(Effect.gen(function*() {
      if (owned.get(state.partition) !== state || !state.handedOver) return
      const waiting = state.handoversWaiting()
      if (state.inflight.length > 0 || waiting > 0) {
        const now = yield* Clock.currentTimeMillis
        if (now - state.waitedSince < HANDOVER_SLOW_MS) return
        state.waitedSince = now
        return yield* Effect.logWarning(
          `Handing partition ${state.partition} over waits for the consumer to commit ${state.inflight.length} entries and ${waiting} sessions' handovers`
        )
      }
      owned.delete(state.partition)
      yield* log.release(partitionLease(state.partition), id).pipe(
        Effect.tapError((error) => availability.failure("release", error)),
        Effect.ignore
      )
      yield* Metric.increment(RedisMetrics.partitionsHandedOver)
      yield* Metric.set(RedisMetrics.partitionsOwned, owned.size)
      yield* Effect.logInfo(`Handed partition ${state.partition} over`)
    })).pipe(Effect.annotateLogs(annotations))

  // -- reading --------------------------------------------------------------------

  const stateOf = (state: PartitionState, session: SessionKey.SessionKey) =>
    Effect.gen(function*() {
      const known = state.sessions.get(session)
      if (known !== undefined) return known ?? undefined
      const saved = yield* availability.retry(
        "checkpoint",
        log.checkpoint(state.partition, checkpointName(session)),
        retry
      )
      if (Option.isNone(saved)) return undefined
      const decoded = decodeState(saved.value)
      if (Either.isLeft(decoded)) {
        yield* Effect.logWarning("A saved session state could not be read: the session continues afresh").pipe(
          Effect.annotateLogs({ session: Printable.text(session) })
        )
        return undefined
      }
      return decoded.right
    })

  const process = (state: PartitionState, entry: EventLog.Entry) =>
    Effect.gen(function*() {
      yield* Metric.increment(RedisMetrics.entriesRead)
      const decoded = LogEntry.decode(entry.payload)
      if (Either.isLeft(decoded)) {
        state.record({ id: entry.id, session: undefined, last: undefined, state: undefined, acknowledged: false })
        yield* Metric.increment(RedisMetrics.invalidEntries)
        return yield* Effect.logWarning(`Skipped an entry that could not be read (${entry.id})`)
      }
      const input = decoded.right
      const session = input.session
      const before = yield* stateOf(state, session)
      const step = SessionMerge.step(before, input, merge)
      if (input._tag === "Expire") state.noted.delete(session)
      if (input._tag === "ReceiverLost") state.noted.delete(`${session}/${input.receiver}`)
      const events = step.events.map((event, i) => withPosition(event, LogEntry.position(entry.order, i)))
      state.sessions.set(session, step.state ?? null)
      if (step.state === undefined) state.emitted.delete(session)
      else if (events.length > 0) state.emitted.set(session, events[events.length - 1]!.position!)
      state.record({
        id: entry.id,
        session,
        last: events.length === 0 ? undefined : events[events.length - 1]!.position,
        state: step.state,
        acknowledged: false
      })
      if (step.duplicate) yield* Metric.increment(RedisMetrics.duplicates)
      for (const kind of ["audio", "video", "other"] as const) {
        const lost = step.lost[kind]
        if (lost > 0) yield* Metric.incrementBy(Metric.tagged(RedisMetrics.lostEvents, "kind", kind), lost)
      }
      if (step.lost.audio + step.lost.video + step.lost.other > 0) {
        yield* Effect.logError(
          `Entries of a session were trimmed before they were read (the log's safety cap): ${step.lost.audio} audio, ${step.lost.video} video and ${step.lost.other} other events lost`
        ).pipe(Effect.annotateLogs({ session: Printable.text(session) }))
      }
      if (events.length > 0) yield* Queue.offerAll(out, events)
    })

  const claim = (state: PartitionState) =>
    Effect.gen(function*() {
      const claimed = yield* availability.retry(
        "claim",
        log.claim({ partition: state.partition, group, consumer: id }),
        retry
      )
      // every session the partition's previous owner left unfinished, even one no entry will mention again (its
      // receivers gone, so only this worker's Expire note can end it)
      const saved = yield* availability.retry("checkpoint", log.checkpoints(state.partition), retry)
      for (const [name, value] of saved) {
        if (!name.startsWith(SESSION_CHECKPOINT)) continue
        const decoded = decodeState(value)
        if (Either.isRight(decoded) && !state.sessions.has(decoded.right.session)) {
          state.sessions.set(decoded.right.session, decoded.right)
        }
      }
      state.claimed = true
      // with nothing pending, everything delivered so far is acknowledged: trim it even if nothing more comes
      if (claimed.entries.length === 0) state.frontier = claimed.delivered
      if (claimed.missing.length > 0) {
        yield* Effect.logError(
          `${claimed.missing.length} pending entries of partition ${state.partition} were trimmed before they were acknowledged`
        )
      }
      if (claimed.entries.length > 0) {
        yield* Metric.incrementBy(RedisMetrics.entriesClaimed, claimed.entries.length)
        yield* Effect.logInfo(`Claimed ${claimed.entries.length} pending entries of partition ${state.partition}`)
      }
      for (const entry of claimed.entries) {
        if (owned.get(state.partition) !== state) return
        yield* process(state, entry)
      }
    })

  // one round: claim what was newly taken, then read every claimed partition; a failed read is retried on the
  // schedule with the partitions owned by then
  const reading = Effect.gen(function*() {
    for (const state of Array.from(owned.values())) {
      if (state.draining) yield* handOver(state)
      else if (!state.claimed) yield* claim(state)
    }
    const ready = Array.from(owned.values()).filter((state) => state.claimed && !state.draining).map((state) =>
      state.partition
    )
    const reads = yield* log.read({ partitions: ready, group, consumer: id, count: readCount, block }).pipe(
      Effect.tapError((error) => availability.failure("read", error))
    )
    yield* availability.success
    for (const read of reads) {
      for (const entry of read.entries) {
        const state = owned.get(read.partition)
        // a partition given up or being handed over meanwhile: its entries stay pending for its next owner to claim
        if (state === undefined || !state.claimed || state.draining) break
        yield* process(state, entry)
      }
    }
  }).pipe(Effect.retry(retry), Effect.forever, Effect.annotateLogs(annotations))

  // -- acknowledging, trimming, expiring -------------------------------------------

  const acknowledge = (state: PartitionState) =>
    lockOf(state.partition).withPermits(1)(Effect.gen(function*() {
      if (owned.get(state.partition) !== state) return
      const settled = state.settle()
      if (settled.entries.length === 0) return
      const done = yield* log.commit({
        partition: state.partition,
        group,
        lease: partitionLease(state.partition),
        owner: id,
        ids: settled.entries.map((entry) => entry.id),
        checkpoints: settled.checkpoints
      }).pipe(Effect.tapError((error) => availability.failure("commit", error)), Effect.option)
      if (Option.isNone(done)) return
      yield* availability.success
      if (!done.value) return yield* lose(state, "its lease is gone or held by another worker")
      state.acknowledged(settled.entries)
      yield* Metric.incrementBy(RedisMetrics.entriesAcknowledged, settled.entries.length)
    }))

  const trim = (state: PartitionState) =>
    Effect.suspend(() => {
      const frontier = state.frontier
      if (frontier === undefined || frontier === state.trimmed) return Effect.void
      return log.trim(state.partition, frontier).pipe(
        Effect.tap(() => {
          state.trimmed = frontier
        }),
        Effect.tapError((error) => availability.failure("trim", error)),
        Effect.ignore
      )
    })

  // notes for sessions nobody will end otherwise: no connection anywhere for long enough, or a receiver gone;
  // `alive` caches, for one round, which receivers hold their liveness lease
  const expire = (state: PartitionState, alive: Map<string, boolean>) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const notes: Array<{ readonly key: string; readonly entry: LogEntry.Expire | LogEntry.ReceiverLost }> = []
      for (const [session, merged] of state.sessions) {
        if (merged === null || !merged.started) continue
        const open = Object.values(merged.connections)
        if (open.length === 0) {
          // no receiver will time the session out itself when every one that had it shut down or is gone
          const wait = SessionMerge.awaitsReceivers(merged) ? expireAfter : merge.sessionTimeout
          if (merged.disconnectedAt !== undefined && now - merged.disconnectedAt >= wait && !state.noted.has(session)) {
            notes.push({ key: session, entry: { _tag: "Expire", session, at: now } })
          }
          continue
        }
        for (const receiver of new Set(open)) {
          const key = `${session}/${receiver}`
          if (state.noted.has(key)) continue
          let live = alive.get(receiver)
          if (live === undefined) {
            live = Option.isSome(yield* log.holder(Publisher.livenessLease(receiver)))
            alive.set(receiver, live)
          }
          if (!live) notes.push({ key, entry: { _tag: "ReceiverLost", session, receiver, at: now } })
        }
      }
      if (notes.length === 0) return
      yield* log.append(notes.map(({ entry }) => ({ partition: state.partition, payload: LogEntry.encode(entry) })))
      // written: not again until read back
      for (const { key } of notes) state.noted.add(key)
    }).pipe(
      Effect.tapError((error) => availability.failure("expire", error)),
      Effect.ignore
    )

  const maintain = Effect.gen(function*() {
    yield* heartbeat.pipe(Effect.tapError((error) => availability.failure("heartbeat", error)), Effect.ignore)
    yield* leases.pipe(Effect.tapError((error) => availability.failure("acquire", error)), Effect.ignore)
    const alive = new Map<string, boolean>()
    for (const state of Array.from(owned.values())) {
      yield* acknowledge(state)
      yield* trim(state)
      if (state.draining) yield* finishHandover(state)
      else yield* expire(state, alive)
    }
    // after a handover finished, the next one starts in the same round
    yield* startHandover
  })

  // -- lifetime ---------------------------------------------------------------------

  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      for (const state of Array.from(owned.values())) {
        yield* acknowledge(state)
        yield* trim(state)
        yield* Effect.ignore(log.release(partitionLease(state.partition), id))
      }
      owned.clear()
      if (rebalance) yield* Effect.ignore(log.depart(workersGroup(group), member))
      yield* Metric.set(RedisMetrics.partitionsOwned, 0)
      yield* Effect.logInfo("Released every partition").pipe(Effect.annotateLogs(annotations))
    })
  )
  // workers started together (a deployment's replicas, a machine's boot) see each other before taking partitions:
  // otherwise the first to say it is alive takes every partition and hands most of them over again
  if (rebalance) {
    yield* Effect.ignore(heartbeat)
    yield* Effect.sleep(tick)
  }
  yield* Effect.ignore(heartbeat)
  yield* leases
  yield* Effect.forkScoped(reading)
  yield* maintain.pipe(Effect.delay(tick), Effect.forever, Effect.forkScoped)
  yield* Effect.logInfo(`Worker started with ${owned.size} of ${partitions} partitions`).pipe(
    Effect.annotateLogs(annotations)
  )

  return WorkerSource.of({
    id,
    events: Stream.fromQueue(out),
    commit: (session, position) =>
      Effect.suspend(() => {
        const state = owned.get(LogEntry.partitionOf(session, partitions))
        if (state === undefined) return Effect.void
        state.commit(session, position)
        return acknowledge(state)
      }),
    partitions: Effect.sync(() => Array.from(owned.keys()).sort((a, b) => a - b)),
    lost: Deferred.await(lost)
  })
})

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * The worker as a Layer that also provides core's `EventSource` (its `events`), so `SessionRecorder.layer` and
 * other consumers of an `EventSource` run on it unchanged.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<WorkerSource | EventSource.EventSource, EventLog.EventLogError, EventLog.EventLog> =>
  Layer.scopedContext(
    Effect.map(make(options), (worker) =>
      Context.make(WorkerSource, worker).pipe(
        Context.add(EventSource.EventSource, EventSource.make(worker.events))
      ))
  )
