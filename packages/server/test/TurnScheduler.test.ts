// The scheduler that lets the event loop come round: fibers that keep yielding to each other still let a timer of
// the loop fire within a slice, where Effect's default scheduler runs 2,048 rounds of microtasks first.
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
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

  it.live("a drain of many ready fibers stops at the slice: the rest run in later turns", () =>
    Effect.gen(function*() {
      // 30 fibers, each 10 ms of work, all ready at once: one drain would run them all (300 ms) before the loop goes on
      const ran = yield* Effect.async<number>((resume) => {
        let count = 0
        let countAtTimer = -1
        const program = Effect.gen(function*() {
          setTimeout(() => (countAtTimer = count), 0)
          const fibers = []
          for (let i = 0; i < 30; i++) fibers.push(yield* Effect.fork(Effect.sync(() => (busy(10), count++))))
          yield* Fiber.joinAll(fibers)
        })
        Effect.runCallback(
          // after the yield, the fiber runs on the scheduler's turns (it started on the default one)
          // (a slice of 20 ms leaves forking them, cold code included, well inside the first slice)
          Effect.zipRight(Effect.yieldNow(), program).pipe(Effect.withScheduler(TurnScheduler.make(20))),
          { onExit: () => resume(Effect.succeed(countAtTimer)) }
        )
      })
      // a slice holds two or three of them; the timer needs the loop to come round
      assert.isAtMost(ran, 10)
    }))

  it.live("a fiber that runs long without yielding is made to yield once the slice is used", () =>
    Effect.gen(function*() {
      const ran = yield* Effect.async<number>((resume) => {
        let fired = false
        let count = 0
        let countAtTimer = -1
        // 4,000 steps of 50 µs with no yield of its own: Effect's operation count alone would let it run about
        // 2,048 operations (well over 100 ms of steps) before the loop could go on
        const program = Effect.forEach(Array.from({ length: 4_000 }, () => 0), () =>
          Effect.sync(() => {
            busy(0.05)
            count++
          }), { discard: true })
        Effect.runCallback(
          Effect.sync(() => setTimeout(() => ((fired = true), (countAtTimer = count)), 0)).pipe(
            // from here on the fiber runs on the scheduler's turns (it started on the default one)
            Effect.zipRight(Effect.yieldNow()),
            Effect.zipRight(program),
            Effect.withScheduler(TurnScheduler.make(5))
          ),
          { onExit: () => resume(Effect.succeed(fired ? countAtTimer : count)) }
        )
      })
      assert.isAtMost(ran, 600)
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
