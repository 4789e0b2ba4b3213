import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * One timer for every session of a recorder. Each session is put in one of `SLOTS` slots when it starts (round
 * robin), and every `interval / SLOTS` the sessions of the next slot flush: every session still flushes once per
 * `interval`, but a thousand sessions flush a fifth at a time instead of all in the same instant, and no session
 * keeps a timer fiber of its own. The timer keeps its pace whatever the flushes take: a slot's flushes run beside
 * the next ones (a slow disk delays its own sessions, not the timer), and a member still flushing when its turn
 * comes again lets that turn pass.
 *
 * @internal
 */
export interface Member {
  /** Writes what the session collected; `live` is the number of sessions registered, for cadences that adapt. */
  readonly flush: (live: number) => Effect.Effect<void>
}

/** @internal */
export interface FlushScheduler {
  /** Flushes `member` on the shared schedule for the life of the scope. */
  readonly register: (member: Member) => Effect.Effect<void, never, Scope.Scope>
  readonly live: () => number
}

/** @internal */
export const SLOTS = 5

/** Sessions of one slot that flush at the same time (their writes overlap on libuv's thread pool). */
const CONCURRENCY = 16

/** @internal */
export const make = (interval: Duration.DurationInput): Effect.Effect<FlushScheduler, never, Scope.Scope> =>
  Effect.gen(function*() {
    const slots = Array.from({ length: SLOTS }, () => new Set<Member>())
    let next = 0
    let live = 0
    let tick = 0
    const step = Duration.millis(Math.max(1, Duration.toMillis(Duration.decode(interval)) / SLOTS))
    const scope = yield* Effect.scope

    yield* Effect.forkScoped(
      Effect.sleep(step).pipe(
        Effect.zipRight(Effect.suspend(() => {
          const members = Array.from(slots[tick++ % SLOTS]!)
          if (members.length === 0) return Effect.void
          return Effect.forkIn(
            Effect.forEach(members, (member) => member.flush(live), { concurrency: CONCURRENCY, discard: true }),
            scope
          )
        })),
        Effect.forever,
        Effect.interruptible
      )
    )

    const register = (member: Member) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const slot = slots[next++ % SLOTS]!
          slot.add(member)
          live++
          return slot
        }),
        (slot) =>
          Effect.sync(() => {
            slot.delete(member)
            live--
          })
      ).pipe(Effect.asVoid)

    return { register, live: () => live }
  })
