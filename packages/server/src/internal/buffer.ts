import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { fromArray } from "./chunk.js"

type Pull<A> = Effect.Effect<Chunk.Chunk<A>, Option.Option<never>>

/** How a buffer tells its reader that there is something to take. */
export interface Reader {
  /** Items arrived in an empty buffer, or it ended: wake the reader once the current turn's I/O is done. */
  readonly signal: () => void
  /** The buffer is filling up: wake the reader right after the current callback. */
  readonly hurry: () => void
}

/** How long a reader may keep taking before it lets the event loop come round (see `Waker`). */
export const SLICE_MS = 5

/** Nobody reads the buffer yet: a reader that comes looks before it waits. */
const NO_READER: Reader = { signal: () => {}, hurry: () => {} }

/**
 * Hands items to one waiting reader, normally once per turn of the event loop: the wake-up runs after the turn's
 * I/O callbacks, so every frame that any socket delivered in that turn reaches the reader as one chunk, for one
 * resumption of its fiber. A buffer that fills up during a turn hurries it: the reader then runs right after the
 * current callback, as it would between two socket reads, before any limit applies.
 *
 * A reader that keeps finding items takes them for at most `SLICE_MS` in a row; then it waits for the end of the
 * turn, so the event loop comes round at least that often. That matters beyond fairness: Node (libuv) accepts one
 * new connection per turn of the loop, so a turn that lasts long holds every new bot's opening handshake up (at
 * 500 busy connections, turns of 300 ms let handshakes time out while the server had CPU to spare).
 */
class Waker<A> implements Reader {
  private waiter: ((effect: Pull<A>) => void) | undefined
  /** The wake-up queued for the end of the turn, if any. */
  private queued: ReturnType<typeof setImmediate> | undefined
  /** A wake-up is queued right after the current callback. */
  private soon = false
  /** When the reader's current run of takes began (`performance.now()`), or -1 when it last waited for items. */
  private sliceStart = -1
  /** The reader had its slice and waits for the end of the turn: nothing hurries it. */
  private yielding = false

  constructor(private readonly takeNow: () => Pull<A>) {}

  readonly signal = (): void => {
    if (this.waiter === undefined || this.queued !== undefined || this.soon) return
    this.queued = setImmediate(this.wake)
  }

  readonly hurry = (): void => {
    if (this.waiter === undefined || this.soon || this.yielding) return
    if (this.queued !== undefined) {
      clearImmediate(this.queued)
      this.queued = undefined
    }
    this.soon = true
    queueMicrotask(this.wake)
  }

  private readonly wake = (): void => {
    this.queued = undefined
    this.soon = false
    this.yielding = false
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    this.sliceStart = performance.now()
    waiter(this.takeNow())
  }

  private wait(): Pull<A> {
    return Effect.async<Chunk.Chunk<A>, Option.Option<never>>((resume) => {
      this.waiter = resume
      return Effect.sync(() => {
        if (this.waiter === resume) this.waiter = undefined
      })
    })
  }

  /** Takes now when `ready` (and the reader has not used up its slice), otherwise waits for a signal. */
  take(ready: () => boolean): Pull<A> {
    return Effect.suspend(() => {
      if (!ready()) {
        this.sliceStart = -1
        return this.wait()
      }
      const now = performance.now()
      if (this.sliceStart < 0) this.sliceStart = now
      else if (now - this.sliceStart >= SLICE_MS) {
        // let the loop come round (new connections, timers, other sockets) before taking more
        this.yielding = true
        this.queued ??= setImmediate(this.wake)
        return this.wait()
      }
      return this.takeNow()
    })
  }
}

/**
 * A single-consumer buffer fed synchronously from socket callbacks. It has no hard capacity: the producer reads
 * `size` and `bytes` and applies the policy (shed media, pause the socket); this buffer only stores, hands items
 * over in chunks and reports each take (items and their weight in bytes) so the producer can resume.
 *
 * It is read either through its own `stream`, or by a {@link MergedBuffers} that reads many at once.
 *
 * Memory: two arrays (items and their weights) that live as long as the buffer and are emptied by each take, never
 * replaced, and a reader of its own once `stream` is used. A take hands over a copy, so nothing taken stays reachable from here; and no array is made per take at
 * one place in the code, which V8 could learn to allocate in the old generation, where a dead array would keep every
 * frame it held alive until the next full collection.
 */
export class EventBuffer<A> {
  private readonly items: Array<A | undefined> = []
  /** The weight of each item, in step with `items`. */
  private readonly weights: Array<number> = []
  /** Where the items not taken yet start. */
  private head = 0
  private held = 0
  private done = false
  /** Whom to tell about items and the end: its own reader, a merged one, or nobody yet. */
  private reader: Reader = NO_READER
  private own: Stream.Stream<A> | undefined = undefined

  constructor(
    private readonly maxChunk: number,
    private readonly onTake: (taken: number, bytes: number) => void,
    /** Hand every item over right after the current callback, not at the end of the turn (for rare items). */
    private readonly urgent = false
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
    // a reader only ever waits on an empty buffer: later items find it signalled already
    const wasEmpty = this.items.length === this.head
    this.items.push(item)
    this.weights.push(weight)
    this.held += weight
    if (this.urgent) this.reader.hurry()
    else if (wasEmpty) this.reader.signal()
  }

  end(): void {
    if (this.done) return
    this.done = true
    this.reader.signal()
  }

  /** Asks the reader to take what is held right after the current callback, not at the end of the turn. */
  hurry(): void {
    if (this.size > 0) this.reader.hurry()
  }

  /** Hands this buffer to a reader that merges it with others: from now on only `takeUpTo` reads it. */
  adopt(reader: Reader): void {
    this.reader = reader
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
    const taken = this.items.slice(start, end) as Array<A>
    this.items.fill(undefined, start, end)
    if (end === this.items.length) {
      this.items.length = 0
      this.weights.length = 0
      this.head = 0
    } else {
      this.head = end
      if (this.head >= 1024 && this.head * 2 >= this.items.length) {
        this.items.splice(0, this.head)
        this.weights.splice(0, this.head)
        this.head = 0
      }
    }
    this.onTake(taken.length, bytes)
    return taken
  }

  private takeNow(): Pull<A> {
    if (this.size === 0) return this.done ? Effect.fail(Option.none()) : Effect.succeed(Chunk.empty())
    return Effect.succeed(fromArray(this.takeUpTo(this.maxChunk)))
  }

  /**
   * The buffer as a Stream (one consumer): each pull takes what is there (up to `maxChunk`), waiting when empty. Made
   * on first use, so a buffer only a merged reader reads carries no reader of its own.
   */
  get stream(): Stream.Stream<A> {
    if (this.own === undefined) {
      const waker = new Waker<A>(() => this.takeNow())
      // items offered before are found by the first pull, which looks before it waits
      if (this.reader === NO_READER) this.reader = waker
      this.own = Stream.repeatEffectChunkOption(waker.take(() => this.size > 0 || this.done))
    }
    return this.own
  }
}

/** A buffer a `MergedBuffers` reads, and whether it is waiting in the ring of ready buffers. */
interface Slot<A> {
  readonly buffer: EventBuffer<A>
  queued: boolean
}

/**
 * Reads every buffer a source names as one Stream, without a fiber or a queue per buffer: each take hands over
 * what the ready buffers hold (up to `maxChunk`), each buffer's items in order. Only buffers that have items (or
 * ended) are visited, so a take costs what it hands over, not the number of open sessions. It ends once the source
 * has ended and every buffer it named has ended and been read.
 */
export class MergedBuffers<S, A> {
  /** Buffers named by the source that have not both ended and been read. */
  private open = 0
  // The buffers that hold items or ended since they were last read, in the order that happened: a ring of slots,
  // each slot marked while it is in the ring. (A `Set` did the same, but at 1,000 sessions its table was rebuilt as
  // buffers came and went several times a second, and the tables that survived a young collection made up half of
  // what the main thread promoted into its old generation.)
  private ring: Array<Slot<A> | undefined> = new Array(64)
  private head = 0
  private size = 0
  private readonly waker = new Waker<A>(() => this.takeNow())

  constructor(
    private readonly source: EventBuffer<S>,
    private readonly bufferOf: (s: S) => EventBuffer<A>,
    private readonly maxChunk: number
  ) {
    source.adopt(this.waker)
  }

  private push(slot: Slot<A>): void {
    if (this.size === this.ring.length) {
      const grown = new Array<Slot<A> | undefined>(this.ring.length * 2)
      for (let i = 0; i < this.size; i++) grown[i] = this.ring[(this.head + i) % this.ring.length]
      this.ring = grown
      this.head = 0
    }
    this.ring[(this.head + this.size) % this.ring.length] = slot
    this.size++
  }

  private shift(): Slot<A> {
    const slot = this.ring[this.head]!
    this.ring[this.head] = undefined
    this.head = (this.head + 1) % this.ring.length
    this.size--
    return slot
  }

  private markReady(slot: Slot<A>): void {
    if (slot.queued) return
    slot.queued = true
    this.push(slot)
  }

  private add(buffer: EventBuffer<A>): void {
    this.open++
    const slot: Slot<A> = { buffer, queued: false }
    buffer.adopt({
      signal: () => {
        this.markReady(slot)
        this.waker.signal()
      },
      hurry: () => {
        this.markReady(slot)
        this.waker.hurry()
      }
    })
    if (buffer.size > 0 || buffer.isDone) this.markReady(slot)
  }

  private takeNow(): Pull<A> {
    for (const s of this.source.takeUpTo(Infinity)) this.add(this.bufferOf(s))
    let out: Array<A> | undefined
    while (this.size > 0) {
      const room = this.maxChunk - (out?.length ?? 0)
      if (room <= 0) break
      const slot = this.ring[this.head]!
      const taken = slot.buffer.takeUpTo(room)
      if (out === undefined) out = taken
      else for (let i = 0; i < taken.length; i++) out.push(taken[i]!)
      if (slot.buffer.size > 0) {
        // the buffer that filled the chunk goes last next time, so a busy session cannot starve the others
        if (this.size > 1) this.push(this.shift())
        break
      }
      this.shift()
      slot.queued = false
      if (slot.buffer.isDone) this.open--
    }
    if (out !== undefined && out.length > 0) return Effect.succeed(fromArray(out))
    if (this.source.isDone && this.source.size === 0 && this.open === 0) return Effect.fail(Option.none())
    return Effect.succeed(Chunk.empty())
  }

  private isReady(): boolean {
    return this.source.size > 0 || this.size > 0 || (this.source.isDone && this.open === 0)
  }

  /** Every buffer's items, as one Stream (one consumer). */
  readonly stream: Stream.Stream<A> = Stream.repeatEffectChunkOption(this.waker.take(() => this.isReady()))
}
