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

/** A second in which a thread was busy at least this share of the time counts as saturated. */
export const SATURATED = 0.95

/** Saturated seconds in a row before a spell of saturation is told. */
export const SATURATED_FOR = 10

/** Seconds in a row not saturated before the end of a told spell is told. */
export const CALM_FOR = 5

/** Where a thread is in a spell of saturation: seconds in a row saturated, seconds in a row not, and whether told. */
export interface Spell {
  readonly saturated: number
  readonly calm: number
  readonly told: boolean
}

/** No spell. */
export const noSpell: Spell = { saturated: 0, calm: 0, told: false }

/**
 * The spell after one more second in which the thread was `busy` (0 to 1), and what to tell: that a spell began
 * (`SATURATED_FOR` saturated seconds in a row) or that a told one ended (`CALM_FOR` seconds in a row below it). A
 * spell is told once, however long it lasts, and a second or two of respite within it does not end it.
 */
export const step = (spell: Spell, busy: number): readonly [Spell, "saturated" | "recovered" | undefined] => {
  if (busy >= SATURATED) {
    const next = { saturated: spell.saturated + 1, calm: 0, told: spell.told }
    return !spell.told && next.saturated >= SATURATED_FOR ? [{ ...next, told: true }, "saturated"] : [next, undefined]
  }
  const next = { saturated: 0, calm: spell.calm + 1, told: spell.told }
  return spell.told && next.calm >= CALM_FOR ? [noSpell, "recovered"] : [next, undefined]
}

/** Spells of saturation told, by thread (`main` or `recorder`). */
export const saturations = Metric.counter("callstream_thread_saturations_total", {
  description: `Times a thread was busy past ${SATURATED * 100}% of every second for ${SATURATED_FOR} s in a row`,
  incremental: true
})

/**
 * Reads `gauge` (a thread's busy share, set every second) every second and tells each spell of saturation: a
 * warning when it begins, counted in {@link saturations} under `thread`, and a line when it ends. Runs until
 * interrupted.
 */
export const watch = (
  gauge: Metric.Metric.Gauge<number>,
  thread: "main" | "recorder",
  tell: { readonly saturated: string; readonly recovered: string }
): Effect.Effect<never> =>
  Effect.suspend(() => {
    let spell = noSpell
    const counted = Metric.tagged(saturations, "thread", thread)
    return Effect.forever(Effect.delay(
      Effect.gen(function*() {
        const [next, told] = step(spell, (yield* Metric.value(gauge)).value)
        spell = next
        if (told === "saturated") {
          yield* Metric.increment(counted)
          yield* Effect.logWarning(tell.saturated)
        } else if (told === "recovered") {
          yield* Effect.logInfo(tell.recovered)
        }
      }),
      "1 second"
    ))
  })
