// how busy a thread is: the meter behind serve's callstream_*_thread_busy_ratio gauges
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/TestClock"
import * as ThreadLoad from "../src/internal/threadLoad.js"

// runs code on this thread, without a turn of the event loop, for `ms` of wall-clock time
const spin = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy
  }
}

// lets the event loop wait, idle, for `ms`
const idle = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

describe("ThreadLoad", () => {
  it("meter: near 1 over a stretch of code, near 0 over a stretch of waiting after it", async () => {
    const busy = ThreadLoad.meter()
    spin(200)
    const working = busy()
    await new Promise((resolve) => setTimeout(resolve, 600))
    const waiting = busy()
    assert.isAbove(working, 0.8)
    assert.isAtMost(working, 1)
    // only the wait since the last call: counted from the meter's start, the spin would make it 0.25
    assert.isBelow(waiting, 0.15)
    assert.isAtLeast(waiting, 0)
  })

  it.effect("report: sets the gauge every second to how busy the thread was in it", () =>
    Effect.gen(function*() {
      const gauge = Metric.gauge("callstream_test_thread_busy_ratio")
      yield* Metric.set(gauge, -1)
      const reporting = yield* Effect.fork(ThreadLoad.report(gauge))
      yield* Effect.yieldNow()
      // nothing before the first second
      assert.strictEqual((yield* Metric.value(gauge)).value, -1)
      yield* Effect.sync(() => spin(200))
      yield* TestClock.adjust("1 second")
      const working = (yield* Metric.value(gauge)).value
      yield* idle(600)
      yield* TestClock.adjust("1 second")
      const waiting = (yield* Metric.value(gauge)).value
      yield* Fiber.interrupt(reporting)
      assert.isAbove(working, 0.8)
      // that second's share, not the share since the report began (0.25 with the spin)
      assert.isBelow(waiting, 0.15)
    }))
})

describe("ThreadLoad's spells of saturation", () => {
  const run = (seconds: ReadonlyArray<number>) => {
    let spell = ThreadLoad.noSpell
    const told: Array<string> = []
    seconds.forEach((busy, i) => {
      const [next, what] = ThreadLoad.step(spell, busy)
      spell = next
      if (what !== undefined) told.push(`${what} at ${i + 1}`)
    })
    return told
  }
  const of = (n: number, busy: number) => Array.from({ length: n }, () => busy)

  it("tells a spell once, after SATURATED_FOR saturated seconds in a row, and its end after CALM_FOR calm ones", () => {
    assert.deepStrictEqual(run(of(9, 1)), [], "nine seconds are not a spell")
    assert.deepStrictEqual(run([...of(9, 1), 0.5, ...of(9, 1)]), [], "a calm second in between starts it over")
    assert.deepStrictEqual(run(of(60, 0.97)), ["saturated at 10"], "told once, however long")
    // a second or two of respite within a told spell does not end it; CALM_FOR seconds do
    assert.deepStrictEqual(run([...of(10, 1), 0.4, 0.4, ...of(5, 1), ...of(5, 0.2)]), [
      "saturated at 10",
      "recovered at 22"
    ])
    // and the next spell is told again
    assert.deepStrictEqual(run([...of(10, 1), ...of(5, 0), ...of(10, 1)]), [
      "saturated at 10",
      "recovered at 15",
      "saturated at 25"
    ])
  })

  it.effect("watch: reads the gauge every second, warns once per spell, counts it, and says when it ends", () =>
    Effect.gen(function*() {
      const gauge = Metric.gauge("callstream_test_spell_busy_ratio")
      const counted = Metric.tagged(ThreadLoad.saturations, "thread", "recorder")
      const before = (yield* Metric.value(counted)).count
      const lines: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => lines.push(`${logLevel.label} ${String(message)}`))
      const watching = yield* Effect.fork(
        ThreadLoad.watch(gauge, "recorder", { saturated: "too busy", recovered: "fine again" }).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
      )
      yield* Metric.set(gauge, 1)
      yield* TestClock.adjust(`${ThreadLoad.SATURATED_FOR - 1} seconds`)
      assert.deepStrictEqual(lines, [])
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(lines, ["WARN too busy"])
      yield* TestClock.adjust("30 seconds")
      assert.deepStrictEqual(lines, ["WARN too busy"])
      assert.strictEqual((yield* Metric.value(counted)).count, before + 1)
      yield* Metric.set(gauge, 0.3)
      yield* TestClock.adjust(`${ThreadLoad.CALM_FOR} seconds`)
      assert.deepStrictEqual(lines, ["WARN too busy", "INFO fine again"])
      yield* Fiber.interrupt(watching)
    }))
})
