/**
 * How busy a thread is: the share of time its event loop spent running code rather than waiting for I/O or a timer
 * (Node's event loop utilization, `performance.eventLoopUtilization`, which a worker thread measures for itself).
 * Near 1 the thread cannot take more: on `serve`'s main thread the sockets' turns grow longer (pings answer late, new
 * connections wait), on a recorder thread the recordings fall behind the meetings (the WAV lag grows). It is
 * wall-clock time, not CPU time: where more threads are busy than there are cores, it counts the time a thread waited
 * for one; and the CPU a thread causes elsewhere (the collector's helper threads) is not in it.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { performance } from "node:perf_hooks"

/**
 * The main thread: `serve`'s holds the sockets and decodes every message; a worker's reads the log and records.
 */
export const mainThreadBusy = Metric.gauge("callstream_main_thread_busy_ratio", {
  description: "Share of the last second the main thread's event loop was busy (1 = it cannot take more)"
})

/**
 * The share of the time since the last call (since the meter was made, at first) the calling thread's event loop
 * was busy, from 0 to 1.
 */
export const meter = (): () => number => {
  let last = performance.eventLoopUtilization()
  return () => {
    const now = performance.eventLoopUtilization()
    const { utilization } = performance.eventLoopUtilization(now, last)
    last = now
    return Number.isFinite(utilization) ? utilization : 0
  }
}

/** Sets `gauge` every second to how busy this thread was in that second; runs until interrupted. */
export const report = (gauge: Metric.Metric.Gauge<number>): Effect.Effect<never> =>
  Effect.suspend(() => {
    const busy = meter()
    return Effect.forever(Effect.delay(Effect.suspend(() => Metric.set(gauge, busy())), "1 second"))
  })
