import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Schedule from "effect/Schedule"
import type * as EventLog from "../EventLog.js"
import * as RedisMetrics from "../RedisMetrics.js"

/**
 * Whether the log answers, as one component (a publisher, a worker) sees it: the first failure after a success is
 * a warning, the recovery an info line, and the gauge and the failure counter follow every attempt.
 */
export class Availability {
  private down = false
  private failed = 0

  constructor(readonly component: string) {}

  readonly failure = (operation: string, error: EventLog.EventLogError): Effect.Effect<void> => {
    this.failed++
    const counted = Metric.increment(Metric.tagged(RedisMetrics.failures, "operation", operation))
    if (this.down) return Effect.zipRight(counted, Effect.logDebug(`${this.component}: ${error.message}`))
    this.down = true
    return Effect.all([
      counted,
      Metric.set(RedisMetrics.available, 0),
      Effect.logWarning(`${this.component}: the log is unavailable (${error.message}); retrying`)
    ], { discard: true })
  }

  readonly success: Effect.Effect<void> = Effect.suspend(() => {
    if (!this.down) return Effect.void
    this.down = false
    const failed = this.failed
    this.failed = 0
    return Effect.zipRight(
      Metric.set(RedisMetrics.available, 1),
      Effect.logInfo(`${this.component}: the log is available again (after ${failed} failed attempts)`)
    )
  })

  /** Runs `effect` until it succeeds, as `schedule` allows, saying so on the way. */
  retry<A>(
    operation: string,
    effect: Effect.Effect<A, EventLog.EventLogError>,
    schedule: Schedule.Schedule<unknown, EventLog.EventLogError>
  ): Effect.Effect<A, EventLog.EventLogError> {
    return effect.pipe(
      Effect.tapError((error) => this.failure(operation, error)),
      Effect.retry(schedule),
      Effect.tap(() => this.success)
    )
  }
}
