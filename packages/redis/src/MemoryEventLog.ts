/**
 * An `EventLog` in this process's memory, with the semantics of Redis Streams (consumer groups, pending entries,
 * claims, leases that expire on the Effect `Clock`, so `TestClock` drives them), for tests of what runs on a log.
 *
 * @example
 * ```ts
 * import { EventLog, MemoryEventLog } from "@callstream/redis"
 * import { Effect } from "effect"
 *
 * const size = Effect.gen(function*() {
 *   const log = yield* EventLog.EventLog
 *   yield* log.append([{ partition: 3, payload: "hello" }])
 *   return yield* log.size(3)
 * })
 *
 * Effect.runPromise(size.pipe(Effect.provide(MemoryEventLog.layer))) // 1
 * ```
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as EventLog from "./EventLog.js"

interface Group {
  lastDelivered: number
  /** entry number -> consumer */
  readonly pending: Map<number, string>
}

interface Partition {
  /** Entries in order; trimming removes from the front. */
  entries: Array<{ readonly n: number; readonly payload: string }>
  next: number
  readonly groups: Map<string, Group>
  readonly checkpoints: Map<string, string>
}

const entryOf = (n: number, payload: string): EventLog.Entry => ({
  id: String(n),
  order: String(n).padStart(16, "0"),
  payload
})

const groupOf = (p: Partition, name: string): Group => {
  let group = p.groups.get(name)
  if (group === undefined) {
    group = { lastDelivered: 0, pending: new Map() }
    p.groups.set(name, group)
  }
  return group
}

/**
 * Makes an empty log.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<EventLog.EventLog> = Effect.sync(() => {
  const partitions = new Map<number, Partition>()
  const leases = new Map<string, { owner: string; until: number }>()
  // each group's members, by when each is forgotten
  const groups = new Map<string, Map<string, number>>()
  let waiters: Array<() => void> = []

  const partition = (n: number): Partition => {
    let p = partitions.get(n)
    if (p === undefined) {
      p = { entries: [], next: 1, groups: new Map(), checkpoints: new Map() }
      partitions.set(n, p)
    }
    return p
  }

  const wake = () => {
    const ready = waiters
    waiters = []
    for (const resume of ready) resume()
  }

  const holderAt = (name: string, now: number): string | undefined => {
    const lease = leases.get(name)
    return lease !== undefined && lease.until > now ? lease.owner : undefined
  }

  const deliver = (
    options: { readonly partitions: ReadonlyArray<number>; readonly group: string; readonly consumer: string },
    count: number
  ): Array<EventLog.Read> | EventLog.EventLogError => {
    const out: Array<EventLog.Read> = []
    for (const n of options.partitions) {
      const p = partition(n)
      const group = p.groups.get(options.group)
      if (group === undefined) {
        return new EventLog.EventLogError({
          reason: "Rejected",
          operation: "read",
          cause: new Error(`NOGROUP the group ${options.group} has not joined partition ${n}`)
        })
      }
      const entries: Array<EventLog.Entry> = []
      for (const entry of p.entries) {
        if (entries.length >= count) break
        if (entry.n <= group.lastDelivered) continue
        group.lastDelivered = entry.n
        group.pending.set(entry.n, options.consumer)
        entries.push(entryOf(entry.n, entry.payload))
      }
      if (entries.length > 0) out.push({ partition: n, entries })
    }
    return out
  }

  const read: EventLog.EventLog["read"] = (options) =>
    Effect.gen(function*() {
      const first = deliver(options, options.count)
      if (!Array.isArray(first)) return yield* first
      if (first.length > 0) return first
      const woken = Effect.async<void>((resume) => {
        const wakeUp = () => resume(Effect.void)
        waiters.push(wakeUp)
        return Effect.sync(() => {
          waiters = waiters.filter((w) => w !== wakeUp)
        })
      })
      yield* Effect.raceFirst(woken, Effect.sleep(Duration.decode(options.block)))
      const second = deliver(options, options.count)
      return Array.isArray(second) ? second : yield* second
    })

  const log: EventLog.EventLog = {
    append: (entries) =>
      Effect.sync(() => {
        for (const { partition: n, payload } of entries) {
          const p = partition(n)
          p.entries.push({ n: p.next++, payload })
        }
        if (entries.length > 0) wake()
      }),
    read,
    claim: ({ consumer, group: name, partition: n }) =>
      Effect.sync(() => {
        const p = partition(n)
        const group = groupOf(p, name)
        const byNumber = new Map(p.entries.map((e) => [e.n, e.payload]))
        const entries: Array<EventLog.Entry> = []
        const missing: Array<string> = []
        for (const n of Array.from(group.pending.keys()).sort((a, b) => a - b)) {
          const payload = byNumber.get(n)
          if (payload === undefined) {
            missing.push(String(n))
            group.pending.delete(n)
          } else {
            group.pending.set(n, consumer)
            entries.push(entryOf(n, payload))
          }
        }
        return { entries, missing, delivered: group.lastDelivered === 0 ? undefined : String(group.lastDelivered) }
      }),
    commit: (commit) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (holderAt(commit.lease, now) !== commit.owner) return false
        const p = partition(commit.partition)
        const group = p.groups.get(commit.group)
        if (group !== undefined) { for (const id of commit.ids) group.pending.delete(Number(id)) }
        for (const [name, value] of commit.checkpoints ?? []) {
          if (value === null) p.checkpoints.delete(name)
          else p.checkpoints.set(name, value)
        }
        return true
      }),
    checkpoint: (n, name) => Effect.sync(() => Option.fromNullable(partition(n).checkpoints.get(name))),
    checkpoints: (n) => Effect.sync(() => Array.from(partition(n).checkpoints)),
    trim: (n, id) =>
      Effect.sync(() => {
        const p = partition(n)
        const upTo = Number(id)
        p.entries = p.entries.filter((e) => e.n > upTo)
      }),
    size: (n) => Effect.sync(() => partition(n).entries.length),
    acquire: (name, owner, ttl) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const held = holderAt(name, now)
        if (held !== undefined && held !== owner) return false
        leases.set(name, { owner, until: now + Duration.toMillis(ttl) })
        return true
      }),
    renew: (name, owner, ttl) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (holderAt(name, now) !== owner) return false
        leases.set(name, { owner, until: now + Duration.toMillis(ttl) })
        return true
      }),
    release: (name, owner) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (holderAt(name, now) === owner) leases.delete(name)
      }),
    holder: (name) => Effect.map(Clock.currentTimeMillis, (now) => Option.fromNullable(holderAt(name, now))),
    heartbeat: (name, member, ttl) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        let members = groups.get(name)
        if (members === undefined) {
          members = new Map()
          groups.set(name, members)
        }
        members.set(member, now + Duration.toMillis(ttl))
        for (const [key, until] of members) if (until <= now) members.delete(key)
        return Array.from(members.keys()).sort()
      }),
    depart: (name, member) =>
      Effect.sync(() => {
        groups.get(name)?.delete(member)
      })
  }
  return log
})

/**
 * A new, empty log each time the Layer is built.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<EventLog.EventLog> = Layer.effect(EventLog.EventLog, make)
