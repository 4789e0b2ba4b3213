/**
 * An Effect `Scheduler` that lets the Node event loop come round: fibers run in microtasks, as with Effect's
 * default scheduler, until they have had `sliceMs` of one turn of the loop; what is scheduled after that waits for
 * the turn's end (`setImmediate`), so sockets are read, timers fire and new connections are accepted in between.
 *
 * The slice bounds the whole turn, not just the start of a drain: the clock is read after every task, and a fiber
 * that runs past the slice yields (it is checked every 128 operations), so what is left waits for the next turn.
 *
 * Why it matters to a server: Node accepts one new connection per turn of the loop. Effect's default scheduler runs
 * up to 2,048 rounds of microtasks before it lets the loop go on, so under load (a recorder flushing hundreds of
 * sessions, each flush a few fibers) one turn can last hundreds of milliseconds, and bots that connect then wait
 * that long per connection ahead of them, until their opening handshakes time out.
 *
 * @example
 * ```ts
 * import { TurnScheduler } from "@callstream/server"
 * import * as Effect from "effect/Effect"
 *
 * // everything the program forks runs on it too
 * const program = Effect.log("serving").pipe(Effect.withScheduler(TurnScheduler.make()))
 * Effect.runFork(program)
 * ```
 *
 * @since 0.2.0
 */
import * as FiberRef from "effect/FiberRef"
import * as Scheduler from "effect/Scheduler"

/**
 * How long fibers may run in one turn of the event loop by default, in milliseconds.
 *
 * @since 0.2.0
 * @category constants
 */
export const DEFAULT_SLICE_MS = 5

/** How many operations a fiber runs between two looks at the clock (a look costs about as much as 50 operations). */
const OPS_PER_CLOCK_CHECK = 128

class Turns implements Scheduler.Scheduler {
  private tasks = new Scheduler.PriorityBuckets()
  /** A drain is scheduled (in a microtask or at the end of the turn). */
  private pending = false
  /** When fibers first ran in this turn (`performance.now()`), or -1. */
  private turnStart = -1

  constructor(private readonly sliceMs: number) {}

  /**
   * Effect's own rule (yield after 2,048 operations), and also: a fiber that has run past the turn's slice yields,
   * so one long-running fiber cannot hold the loop either.
   */
  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): number | false {
    if (
      this.turnStart >= 0 && (fiber.currentOpCount % OPS_PER_CLOCK_CHECK) === 0 && this.sliceUsed()
    ) return fiber.getFiberRef(FiberRef.currentSchedulingPriority)
    return Scheduler.defaultScheduler.shouldYield(fiber)
  }

  scheduleTask(task: Scheduler.Task, priority: number): void {
    this.tasks.scheduleTask(task, priority)
    if (this.pending) return
    this.pending = true
    this.schedule()
  }

  private sliceUsed(): boolean {
    return performance.now() - this.turnStart >= this.sliceMs
  }

  private schedule(): void {
    if (this.turnStart >= 0 && this.sliceUsed()) setImmediate(this.nextTurn)
    else queueMicrotask(this.drain)
  }

  private readonly endTurn = (): void => {
    this.turnStart = -1
  }

  private readonly nextTurn = (): void => {
    this.turnStart = -1
    this.drain()
  }

  private readonly drain = (): void => {
    if (this.turnStart < 0) {
      this.turnStart = performance.now()
      setImmediate(this.endTurn)
    }
    const buckets = this.tasks.buckets
    this.tasks.buckets = []
    for (let b = 0; b < buckets.length; b++) {
      const [, tasks] = buckets[b]!
      for (let i = 0; i < tasks.length; i++) {
        tasks[i]!()
        if (this.sliceUsed() && (i + 1 < tasks.length || b + 1 < buckets.length)) {
          // the slice is gone: what did not run waits for the next turn, ahead of what was scheduled meanwhile
          this.requeue(buckets, b, i + 1)
          this.schedule()
          return
        }
      }
    }
    if (this.tasks.buckets.length === 0) this.pending = false
    else this.schedule()
  }

  /** Puts the tasks of `buckets` from bucket `b`, task `i` on back in the queue, before the ones queued since. */
  private requeue(buckets: Array<[number, Array<Scheduler.Task>]>, b: number, i: number): void {
    const since = this.tasks.buckets
    this.tasks.buckets = []
    for (let j = b; j < buckets.length; j++) {
      const [priority, tasks] = buckets[j]!
      for (let k = j === b ? i : 0; k < tasks.length; k++) this.tasks.scheduleTask(tasks[k]!, priority)
    }
    for (const [priority, tasks] of since) for (const task of tasks) this.tasks.scheduleTask(task, priority)
  }
}

/**
 * A scheduler that gives fibers at most `sliceMs` (default 5 ms) of each turn of the event loop before it lets the
 * loop go on. Install it with `Effect.withScheduler` around a server's program.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (sliceMs: number = DEFAULT_SLICE_MS): Scheduler.Scheduler => new Turns(sliceMs)
