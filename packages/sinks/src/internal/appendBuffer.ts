import type * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/**
 * What is waiting to be appended to one file, and how much of the file is known to be on disk (`committed`: bytes
 * and items, e.g. tape lines). Appends are copied at once into one growing byte buffer (text encoded as UTF-8), so
 * what was appended (a message's raw text) can be collected right away, and are written with one call per flush at
 * the committed end, with a positioned write: a write that fails half-way is simply written again over its own
 * prefix (nothing doubles, nothing tears), and what failed stays here until a later flush gets it onto the disk.
 *
 * @internal
 */
export class AppendBuffer {
  private buffer: Buffer = EMPTY
  // [start, end) waits; the last `take` handed out a view from `start` on
  private start = 0
  private end = 0
  private takenItems = 0
  private stagedItems = 0
  // the file whose position is known to be the committed end (a write moves it on by what it wrote): the next write
  // to it needs no seek
  private positioned: FileSystem.File | undefined
  // a view handed out by `take` may still be written: nothing in the buffer may move until that write is done (a
  // view that is not written at all, its file in trouble, keeps the buffer in place until the next write)
  private viewOut = false

  /**
   * `firstCapacity` is the size of the buffer the first append allocates: a file that gets a line now and then (a
   * control log) starts small, one that gets a steady stream (the tape) starts at a size that needs few growths.
   */
  constructor(public committed: number, public committedItems = 0, private readonly firstCapacity = FIRST_CAPACITY) {}

  /** Bytes waiting. */
  get pending(): number {
    return this.end - this.start
  }

  /** Items waiting. */
  get pendingItems(): number {
    return this.stagedItems
  }

  append(part: string | Uint8Array, items = 0): void {
    if (typeof part === "string") {
      // a UTF-16 unit takes at most 3 bytes of UTF-8: with that much room, no pass to count the bytes first
      if (this.end + part.length * 3 > this.buffer.length) this.reserve(Buffer.byteLength(part))
      this.end += this.buffer.write(part, this.end)
    } else {
      this.reserve(part.byteLength)
      this.buffer.set(part, this.end)
      this.end += part.byteLength
    }
    this.stagedItems += items
  }

  /** Bytes the buffer can hold before it has to make room. */
  get capacity(): number {
    return this.buffer.length
  }

  private reserve(bytes: number): void {
    if (this.end + bytes <= this.buffer.length) return
    const needed = this.end - this.start + bytes
    if (!this.viewOut && needed <= this.buffer.length) {
      // room at the front, where written bytes were: move what waits there, unless the buffer is far larger than
      // what waits (it grew while a flush was late): then it is replaced by one of a size to match, so one slow
      // flush does not leave a session holding a large buffer for the rest of its meeting
      if (this.buffer.length <= Math.max(SHRINK_ABOVE, needed * 4)) {
        this.buffer.copyWithin(0, this.start, this.end)
        this.end -= this.start
        this.start = 0
        return
      }
    }
    // the bytes a write is taking stay where they are until it is done: the old buffer lives on in that view
    const replacement = Buffer.allocUnsafe(Math.max(this.firstCapacity, Math.ceil(needed * 1.5)))
    this.buffer.copy(replacement, 0, this.start, this.end)
    this.end -= this.start
    this.start = 0
    this.buffer = replacement
  }

  /** Everything waiting, as one view (written by `write`; again, with more, by a later flush if that fails). */
  take(): Uint8Array | undefined {
    if (this.end === this.start) return undefined
    this.viewOut = true
    this.takenItems = this.stagedItems
    return this.buffer.subarray(this.start, this.end)
  }

  /** `bytes` (from `take`) reached the disk. */
  private written(bytes: Uint8Array): void {
    this.start += bytes.byteLength
    this.committed += bytes.byteLength
    this.committedItems += this.takenItems
    this.stagedItems -= this.takenItems
    this.takenItems = 0
    if (this.start === this.end) {
      // all written: start over, and give back a buffer over `SHRINK_ABOVE` that is far larger than what was
      // written (it grew while a flush was late, or while the disk failed). A smaller one stays: a tape's share of a
      // flush varies when the recorder is busy, and giving its buffer back whenever one flush wrote a quarter of it
      // had it regrown (allocated and copied) several times a second at 1,000 sessions. A file that gets a line now
      // and then starts small instead (see `firstCapacity`)
      this.start = this.end = 0
      if (this.buffer.length > Math.max(SHRINK_ABOVE, bytes.byteLength * 4)) this.buffer = EMPTY
    }
  }

  /** Gives up everything waiting; returns how many bytes that was. */
  drop(): number {
    const bytes = this.end - this.start
    this.buffer = EMPTY
    this.start = this.end = 0
    this.stagedItems = this.takenItems = 0
    return bytes
  }

  /** Writes `bytes` (from `take`: what was waiting then) to `file` at the committed end, in one call. */
  write(file: FileSystem.File, bytes: Uint8Array | undefined): Effect.Effect<void, PlatformError.PlatformError> {
    if (bytes === undefined) return Effect.void
    return Effect.suspend(() => {
      const write = file === this.positioned
        ? file.writeAll(bytes)
        : Effect.zipRight(file.seek(this.committed, "start"), file.writeAll(bytes))
      return Effect.onExit(write, (exit) =>
        Effect.sync(() => {
          this.viewOut = false
          if (Exit.isSuccess(exit)) {
            this.positioned = file
            this.written(bytes)
          } else {
            // a write that failed half-way moved the position by what it wrote: seek next time
            this.positioned = undefined
          }
        }))
    })
  }
}

const EMPTY = Buffer.alloc(0)
const FIRST_CAPACITY = 16 * 1024
/** A buffer larger than this is replaced by a smaller one when at most a quarter of it is in use. */
const SHRINK_ABOVE = 128 * 1024
