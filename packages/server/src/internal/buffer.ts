import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

type Pull<A> = Effect.Effect<Chunk.Chunk<A>, Option.Option<never>>

/**
 * Hands items to one waiting reader, at most once per microtask: every frame parsed from one socket read then
 * reaches it as one chunk.
 */
class Waker<A> {
  private waiter: ((effect: Pull<A>) => void) | undefined
  private scheduled = false

  constructor(private readonly takeNow: () => Pull<A>) {}

  /** Something changed: wake the reader, if one waits, once the current synchronous work is done. */
  readonly signal = (): void => {
    if (this.waiter === undefined || this.scheduled) return
    this.scheduled = true
    queueMicrotask(this.wake)
  }

  private readonly wake = (): void => {
    this.scheduled = false
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    waiter(this.takeNow())
  }

  /** Takes now when `ready`, otherwise waits for a signal. */
  take(ready: () => boolean): Pull<A> {
    return Effect.suspend(() => {
      if (ready()) return this.takeNow()
      return Effect.async<Chunk.Chunk<A>, Option.Option<never>>((resume) => {
        this.waiter = resume
        return Effect.sync(() => {
          if (this.waiter === resume) this.waiter = undefined
        })
      })
    })
  }
}

/**
 * A single-consumer buffer fed synchronously from socket callbacks. It has no hard capacity: the producer reads
 * `size` and `bytes` and applies the policy (shed media, pause the socket); this buffer only stores, hands items
 * over in chunks and reports each take (items and their weight in bytes) so the producer can resume.
 *
 * It is read either through its own `stream`, or by a {@link MergedBuffers} that reads many at once.
 */
export class EventBuffer<A> {
  private items: Array<A> = []
  /** The weight of each item, in step with `items`. */
  private weights: Array<number> = []
  private head = 0
  private held = 0
  private done = false
  private readonly waker = new Waker<A>(() => this.takeNow())
  /** Whom to tell about new items: this buffer's own reader, or the merged reader that adopted it. */
  private signal: () => void = this.waker.signal

  constructor(
    private readonly maxChunk: number,
    private readonly onTake: (taken: number, bytes: number) => void
  ) {}

  get size(): number {
    return this.items.length - this.head
  }

  /** The weight of what is held, as given to `offer`. */
  get bytes(): number {
    return this.held
  }

  get isDone(): boolean {
    return this.done
  }

  offer(item: A, weight = 0): void {
    if (this.done) return
    this.items.push(item)
    this.weights.push(weight)
    this.held += weight
    this.signal()
  }

  end(): void {
    if (this.done) return
    this.done = true
    this.signal()
  }

  /** Hands this buffer to a reader that merges it with others: from now on only `takeUpTo` reads it. */
  adopt(signal: () => void): void {
    this.signal = signal
  }

  /** Takes up to `max` items without waiting (reports the take like any other). */
  takeUpTo(max: number): Array<A> {
    const available = this.size
    if (available === 0 || max <= 0) return []
    const start = this.head
    const end = start + Math.min(available, max)
    let bytes = 0
    for (let i = start; i < end; i++) bytes += this.weights[i]!
    this.held -= bytes
    const taken = start === 0 && end === this.items.length ? this.items : this.items.slice(start, end)
    this.head = end
    if (this.head === this.items.length) {
      if (taken !== this.items) this.items.length = 0
      else this.items = []
      this.weights.length = 0
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.weights = this.weights.slice(this.head)
      this.head = 0
    }
    this.onTake(taken.length, bytes)
    return taken
  }

  private takeNow(): Pull<A> {
    if (this.size === 0) return this.done ? Effect.fail(Option.none()) : Effect.succeed(Chunk.empty())
    return Effect.succeed(Chunk.unsafeFromArray(this.takeUpTo(this.maxChunk)))
  }

  /** Takes what is there (up to `maxChunk`), waiting when empty; fails with `None` once ended and empty. */
  readonly take: Pull<A> = this.waker.take(() => this.size > 0 || this.done)

  /** The buffer as a Stream (one consumer). */
  readonly stream: Stream.Stream<A> = Stream.repeatEffectChunkOption(this.take)
}

/**
 * Reads every buffer a source names as one Stream, without a fiber or a queue per buffer: each take hands over
 * what all ready buffers hold (up to `maxChunk`), each buffer's items in order. It ends once the source has ended
 * and every buffer it named has ended and been read.
 */
export class MergedBuffers<S, A> {
  private readonly buffers = new Set<EventBuffer<A>>()
  private readonly waker = new Waker<A>(() => this.takeNow())

  constructor(
    private readonly source: EventBuffer<S>,
    private readonly bufferOf: (s: S) => EventBuffer<A>,
    private readonly maxChunk: number
  ) {
    source.adopt(this.waker.signal)
  }

  private takeNow(): Pull<A> {
    for (const s of this.source.takeUpTo(Infinity)) {
      const buffer = this.bufferOf(s)
      buffer.adopt(this.waker.signal)
      this.buffers.add(buffer)
    }
    let out: Array<A> | undefined
    for (const buffer of this.buffers) {
      const room = this.maxChunk - (out?.length ?? 0)
      if (room <= 0) break
      const taken = buffer.takeUpTo(room)
      if (out === undefined) out = taken
      else for (let i = 0; i < taken.length; i++) out.push(taken[i]!)
      if (buffer.isDone && buffer.size === 0) this.buffers.delete(buffer)
    }
    // a buffer that filled the chunk goes last next time, so a busy session cannot starve the others
    if (out !== undefined && out.length >= this.maxChunk) {
      const first = this.buffers.values().next()
      if (!first.done) {
        this.buffers.delete(first.value)
        this.buffers.add(first.value)
      }
    }
    if (out !== undefined && out.length > 0) return Effect.succeed(Chunk.unsafeFromArray(out))
    if (this.source.isDone && this.source.size === 0 && this.buffers.size === 0) return Effect.fail(Option.none())
    return Effect.succeed(Chunk.empty())
  }

  private ready(): boolean {
    if (this.source.size > 0) return true
    for (const buffer of this.buffers) if (buffer.size > 0 || buffer.isDone) return true
    return this.source.isDone && this.buffers.size === 0
  }

  /** Every buffer's items, as one Stream (one consumer). */
  readonly stream: Stream.Stream<A> = Stream.repeatEffectChunkOption(this.waker.take(() => this.ready()))
}
