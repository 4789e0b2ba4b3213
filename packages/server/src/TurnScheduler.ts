/**
 * An Effect `Scheduler` that lets the Node event loop come round: fibers run in microtasks, as with Effect's
 * default scheduler, until they have had `sliceMs` of one turn of the loop; what is scheduled after that waits for
 * the turn's end (`setImmediate`), so sockets are read, timers fire and new connections are accepted in between.
 *
 * Why it matters to a server: Node accepts one new connection per turn of the loop. Effect's default scheduler runs
 * up to 2,048 rounds of microtasks before it lets the loop go on, so under load (a recorder flushing hundreds of
 * sessions, each flush a few fibers) one turn can last hundreds of milliseconds, and bots that connect then wait
 * that long per connection ahead of them, until their opening handshakes time out.
 *
 * The slice is looked at where a drain ends: a drain runs every task that was queued when it began (each fiber up
 * to Effect's 2,048 operations), so a turn can outlast the slice by one drain. Enforcing it after every task was
 * tried and measured under `callstream serve` past its saturation point: the loop then came round more often and
 * accepted more bots, but the recorder got less of each turn than the sockets fed it, so the backlog moved from
 * the kernel's socket buffers into the process (RSS 822 MB against 393 MB, WAV lag 5 s against 0.8 s at 500 bots
 * on a slow machine), and at 1,000 bots on a fast one it accepted no more (902 and 928 of 1,000, against 1,000
 * and 938). BENCHMARKS.md has the runs.
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
import * as Scheduler from "effect/Scheduler"

/**
 * How long fibers may run in one turn of the event loop by default, in milliseconds.
 *
 * @since 0.2.0
 * @category constants
 */
export const DEFAULT_SLICE_MS = 5

class Turns implements Scheduler.Scheduler {
  private tasks = new Scheduler.PriorityBuckets()
  /** A drain is scheduled (in a microtask or at the end of the turn). */
  private pending = false
  /** When fibers first ran in this turn (`performance.now()`), or -1. */
  private turnStart = -1

  constructor(private readonly sliceMs: number) {}

  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): number | false {
    return Scheduler.defaultScheduler.shouldYield(fiber)
  }

  scheduleTask(task: Scheduler.Task, priority: number): void {
    this.tasks.scheduleTask(task, priority)
    if (this.pending) return
    this.pending = true
    this.schedule()
  }

  private schedule(): void {
    if (this.turnStart >= 0 && performance.now() - this.turnStart >= this.sliceMs) setImmediate(this.nextTurn)
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
    for (const [, tasks] of buckets) {
      for (let i = 0; i < tasks.length; i++) tasks[i]!()
    }
    if (this.tasks.buckets.length === 0) this.pending = false
    else this.schedule()
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
