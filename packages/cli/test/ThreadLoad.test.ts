// how busy a thread is: the meter behind serve's callstream_*_thread_busy_ratio gauges
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
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
