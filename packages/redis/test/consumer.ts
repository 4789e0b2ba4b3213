import type { SessionEvent } from "@callstream/core"
import * as WorkerSource from "@callstream/redis/WorkerSource"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { describe as show } from "./events.js"

/** What a consumer that stores positions keeps, per session: the last position applied and what it applied. */
export class Store {
  readonly sessions = new Map<string, { last: string; applied: Array<SessionEvent.SessionEvent> }>()
  ended = 0

  apply(event: SessionEvent.SessionEvent): boolean {
    const saved = this.sessions.get(event.session) ?? { last: "", applied: [] }
    this.sessions.set(event.session, saved)
    assert.isDefined(event.position, "every event from a worker has a position")
    if (event.position! <= saved.last) return false
    saved.last = event.position!
    saved.applied.push(event)
    if (event._tag === "SessionEnded") this.ended++
    return true
  }

  applied(session: string): ReadonlyArray<string> {
    return (this.sessions.get(session)?.applied ?? []).map(show)
  }
}

/** Consumes a worker: applies each event to the store, commits every `commitEvery`th, until `done`. */
export const consume = (store: Store, done: () => boolean, commitEvery = 1) =>
  Effect.gen(function*() {
    const worker = yield* WorkerSource.WorkerSource
    let n = 0
    yield* worker.events.pipe(
      Stream.runForEachWhile((event) =>
        Effect.suspend(() => {
          store.apply(event)
          const stop = done()
          return (++n % commitEvery === 0 || stop ? worker.commit(event.session, event.position!) : Effect.void).pipe(
            Effect.as(!stop)
          )
        })
      )
    )
  })

/** Waits (polling, generous bound) until `check` holds. */
export const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, what: string) =>
  check.pipe(
    Effect.filterOrFail((ok) => ok, () => new Error(`never happened: ${what}`)),
    Effect.retry(Schedule.spaced(50).pipe(Schedule.upTo("20 seconds")))
  )
