import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/**
 * A single-consumer buffer fed synchronously from socket callbacks. It has no hard capacity: the producer reads
 * `size` and applies the policy (shed media, pause the socket); this buffer only stores, hands items over in
 * chunks and reports each take so the producer can resume.
 *
 * A waiting consumer is woken once per microtask, so every frame parsed from one socket read reaches it as one
 * chunk.
 */
export class EventBuffer<A> {
  private items: Array<A> = []
  private head = 0
  private done = false
  private wakeScheduled = false
  private waiter: ((effect: Effect.Effect<Chunk.Chunk<A>, Option.Option<never>>) => void) | undefined

  constructor(
    private readonly maxChunk: number,
    private readonly onTake: (taken: number) => void
  ) {}

  get size(): number {
    return this.items.length - this.head
  }

  get isDone(): boolean {
    return this.done
  }

  offer(item: A): void {
    if (this.done) return
    this.items.push(item)
    this.scheduleWake()
  }

  end(): void {
    if (this.done) return
    this.done = true
    this.scheduleWake()
  }

  private scheduleWake(): void {
    if (this.waiter === undefined || this.wakeScheduled) return
    this.wakeScheduled = true
    queueMicrotask(this.wake)
  }

  private readonly wake = (): void => {
    this.wakeScheduled = false
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    waiter(this.takeNow())
  }

  private takeNow(): Effect.Effect<Chunk.Chunk<A>, Option.Option<never>> {
    const available = this.size
    if (available === 0) return this.done ? Effect.fail(Option.none()) : Effect.succeed(Chunk.empty())
    const end = this.head + Math.min(available, this.maxChunk)
    const chunk = this.items.slice(this.head, end)
    this.head = end
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    this.onTake(chunk.length)
    return Effect.succeed(Chunk.unsafeFromArray(chunk))
  }

  /** Takes what is there (up to `maxChunk`), waiting when empty; fails with `None` once ended and empty. */
  readonly take: Effect.Effect<Chunk.Chunk<A>, Option.Option<never>> = Effect.suspend(() => {
    if (this.size > 0 || this.done) return this.takeNow()
    return Effect.async<Chunk.Chunk<A>, Option.Option<never>>((resume) => {
      this.waiter = resume
      return Effect.sync(() => {
        if (this.waiter === resume) this.waiter = undefined
      })
    })
  })

  /** The buffer as a Stream (one consumer). */
  readonly stream: Stream.Stream<A> = Stream.repeatEffectChunkOption(this.take)
}
