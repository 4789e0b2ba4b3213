import type * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"

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

  constructor(public committed: number, public committedItems = 0) {}

  /** Bytes waiting. */
  get pending(): number {
    return this.end - this.start
  }

  /** Items waiting. */
  get pendingItems(): number {
    return this.stagedItems
  }

  append(part: string | Uint8Array, items = 0): void {
    this.reserve(typeof part === "string" ? Buffer.byteLength(part) : part.byteLength)
    if (typeof part === "string") this.end += this.buffer.write(part, this.end)
    else {
      this.buffer.set(part, this.end)
      this.end += part.byteLength
    }
    this.stagedItems += items
  }

  private reserve(bytes: number): void {
    if (this.end + bytes <= this.buffer.length) return
    const waiting = this.end - this.start
    // the bytes handed out by `take` stay where they are until written: the old buffer lives on in that view
    const grown = Buffer.allocUnsafe(Math.max(FIRST_CAPACITY, (waiting + bytes) * 2))
    this.buffer.copy(grown, 0, this.start, this.end)
    this.end = waiting
    this.start = 0
    this.buffer = grown
  }

  /** Everything waiting, as one view (written by `write`; again, with more, by a later flush if that fails). */
  take(): Uint8Array | undefined {
    if (this.end === this.start) return undefined
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
      // all written: start over, and give a buffer grown large (a disk that failed for a while) back
      this.start = this.end = 0
      if (this.buffer.length > LARGE) this.buffer = EMPTY
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
    return file.seek(this.committed, "start").pipe(
      Effect.zipRight(file.writeAll(bytes)),
      Effect.tap(() => Effect.sync(() => this.written(bytes)))
    )
  }
}

const EMPTY = Buffer.alloc(0)
const FIRST_CAPACITY = 16 * 1024
const LARGE = 1024 * 1024
