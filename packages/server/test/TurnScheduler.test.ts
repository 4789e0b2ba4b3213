// The scheduler that lets the event loop come round: fibers that keep yielding to each other still let a timer of
// the loop fire within a slice, where Effect's default scheduler runs 2,048 rounds of microtasks first.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Scheduler from "effect/Scheduler"
import { TurnScheduler } from "../src/index.js"

/** Busy for `ms` of wall-clock time, synchronously. */
const busy = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // spin
  }
}

/**
 * How many rounds of 1 ms of work, each followed by `Effect.yieldNow`, a fiber gets through before a `setTimeout(0)`
 * set when it started fires (it stops there, or at `limit`).
 */
const roundsBeforeTimer = (scheduler: Scheduler.Scheduler, limit: number) =>
  Effect.async<number>((resume) => {
    let fired = false
    setTimeout(() => (fired = true), 0)
    const loop = (rounds: number): Effect.Effect<number> =>
      fired || rounds >= limit
        ? Effect.succeed(rounds)
        : Effect.zipRight(
          Effect.sync(() => busy(1)),
          Effect.suspend(() => Effect.zipRight(Effect.yieldNow(), loop(rounds + 1)))
        )
    Effect.runCallback(loop(0).pipe(Effect.withScheduler(scheduler)), {
      onExit: (exit) => exit._tag === "Success" && resume(Effect.succeed(exit.value))
    })
  })

describe("TurnScheduler", () => {
  it.live("a fiber that keeps yielding lets the event loop go on after a slice", () =>
    Effect.gen(function*() {
      const rounds = yield* roundsBeforeTimer(TurnScheduler.make(5), 1_000)
      // about five rounds of 1 ms; Effect's default scheduler runs 2,048 rounds of microtasks before the timer can fire
      assert.isAtMost(rounds, 200)
      assert.isAtLeast(rounds, 1)
    }))

  it.live("runs every task: a program on it completes as on the default scheduler", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const result = yield* Effect.forEach(
        Array.from({ length: 500 }, (_, i) => i),
        (i) => Effect.zipRight(Effect.yieldNow(), Effect.sync(() => seen.push(i))),
        { concurrency: 8 }
      ).pipe(Effect.withScheduler(TurnScheduler.make(1)))
      assert.strictEqual(result.length, 500)
      assert.deepStrictEqual([...seen].sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => i))
    }))
})
