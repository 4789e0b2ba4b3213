import type * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as GatheredWrite from "../GatheredWrite.js"
import * as BlockPool from "./blockPool.js"

/**
 * What is waiting to be appended to one file, and how much of the file is known to be on disk (`committed`: bytes
 * and items, e.g. tape lines). Appends are copied at once into a chain of blocks from the process's `BlockPool`
 * (text encoded as UTF-8), so what was appended (a message's raw text) can be collected right away, and are written
 * with one call per flush (a gathered write) at the committed end, with a positioned write: a write that fails
 * half-way is simply written again over its own prefix (nothing doubles, nothing tears), and what failed stays here
 * until a later flush gets it onto the disk. Written blocks go back to the pool; a file with nothing waiting holds
 * none.
 *
 * @internal
 */
export class AppendBuffer {
  // bytes waiting: from `start` in the first block to `end` in the last (full blocks in between)
  private blocks: Array<Buffer> = []
  private start = 0
  private end = 0
  private waiting = 0
  private takenItems = 0
  private stagedItems = 0
  // the file whose position is known to be the committed end (a write moves it on by what it wrote): the next write
  // to it needs no seek
  private positioned: FileSystem.File | undefined

  constructor(public committed: number, public committedItems = 0) {}

  /** Bytes waiting. */
  get pending(): number {
    return this.waiting
  }

  /** Items waiting. */
  get pendingItems(): number {
    return this.stagedItems
  }

  /** Bytes of memory the buffer holds (whole blocks). */
  get capacity(): number {
    return this.blocks.length * BlockPool.BLOCK_BYTES
  }

  append(part: string | Uint8Array, items = 0): void {
    this.stagedItems += items
    if (typeof part !== "string") return this.copyIn(part)
    if (part.length === 0) return
    // a UTF-16 unit takes at most 3 bytes of UTF-8: with that much room in the last block, no pass to count them
    const room = this.blocks.length === 0 ? 0 : BlockPool.BLOCK_BYTES - this.end
    if (part.length * 3 <= room || (part.length <= room && Buffer.byteLength(part) <= room)) {
      const written = this.blocks[this.blocks.length - 1]!.write(part, this.end)
      this.end += written
      this.waiting += written
      return
    }
    // across blocks: encoded once into the scratch buffer, then copied (a character may straddle two blocks)
    const bytes = Buffer.byteLength(part)
    if (scratch.length < bytes) scratch = Buffer.allocUnsafeSlow(Math.max(bytes, scratch.length * 2))
    scratch.write(part, 0)
    this.copyIn(scratch.subarray(0, bytes))
  }

  private copyIn(bytes: Uint8Array): void {
    let from = 0
    while (from < bytes.byteLength) {
      if (this.blocks.length === 0 || this.end === BlockPool.BLOCK_BYTES) {
        this.blocks.push(BlockPool.take())
        this.end = 0
      }
      const count = Math.min(BlockPool.BLOCK_BYTES - this.end, bytes.byteLength - from)
      this.blocks[this.blocks.length - 1]!.set(bytes.subarray(from, from + count), this.end)
      this.end += count
      from += count
    }
    this.waiting += bytes.byteLength
  }

  /**
   * Everything waiting, as views of its blocks (written by `write`; again, with more, by a later flush if that
   * fails). Appends made before the write is done go after the views' ends; no block moves or is reused while it
   * waits.
   */
  take(): ReadonlyArray<Uint8Array> | undefined {
    if (this.waiting === 0) return undefined
    this.takenItems = this.stagedItems
    const last = this.blocks.length - 1
    return this.blocks.map((block, i) => block.subarray(i === 0 ? this.start : 0, i === last ? this.end : block.length))
  }

  /** `bytes` (from `take`) reached the disk: blocks wholly written go back to the pool. */
  private written(bytes: number): void {
    this.committed += bytes
    this.committedItems += this.takenItems
    this.stagedItems -= this.takenItems
    this.takenItems = 0
    this.waiting = Math.max(0, this.waiting - bytes)
    let left = bytes
    // (after a `drop` there are no blocks left to count off)
    while (left > 0 && this.blocks.length > 0) {
      const blockEnd = this.blocks.length === 1 ? this.end : BlockPool.BLOCK_BYTES
      const here = Math.min(left, blockEnd - this.start)
      left -= here
      this.start += here
      if (this.start === blockEnd && this.blocks.length > 1) {
        BlockPool.give(this.blocks.shift()!)
        this.start = 0
      }
    }
    if (this.waiting === 0 && this.blocks.length === 1) {
      BlockPool.give(this.blocks.pop()!)
      this.start = this.end = 0
    }
  }

  /** Gives up everything waiting; returns how many bytes that was. */
  drop(): number {
    const bytes = this.waiting
    // a write may still be reading them: left to the garbage collector
    for (const block of this.blocks) BlockPool.forget(block)
    this.blocks = []
    this.start = this.end = this.waiting = 0
    this.stagedItems = this.takenItems = 0
    return bytes
  }

  /** Writes `views` (from `take`: what was waiting then) to `file` at the committed end, in one call. */
  write(
    file: FileSystem.File,
    views: ReadonlyArray<Uint8Array> | undefined
  ): Effect.Effect<void, PlatformError.PlatformError> {
    if (views === undefined) return Effect.void
    return Effect.suspend(() => {
      const write = file === this.positioned
        ? GatheredWrite.writeAll(file, views)
        : Effect.zipRight(file.seek(this.committed, "start"), GatheredWrite.writeAll(file, views))
      return Effect.onExit(write, (exit) =>
        Effect.sync(() => {
          if (Exit.isSuccess(exit)) {
            this.positioned = file
            let bytes = 0
            for (const view of views) bytes += view.byteLength
            this.written(bytes)
          } else {
            // a write that failed half-way moved the position by what it wrote: seek next time
            this.positioned = undefined
          }
        }))
    })
  }
}

// where a string that spans blocks is encoded first (the recorder's calls are synchronous: one at a time)
let scratch = Buffer.allocUnsafeSlow(64 * 1024)
