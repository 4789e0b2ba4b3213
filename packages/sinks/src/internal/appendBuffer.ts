import type * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as GatheredWrite from "../GatheredWrite.js"
import { BlockChain } from "./blockChain.js"

/**
 * What is waiting to be appended to one file, and how much of the file is known to be on disk (`committed`: bytes
 * and items, e.g. tape lines). Appends are copied at once into a `BlockChain` (blocks from the process's `BlockPool`,
 * text encoded as UTF-8), so what was appended (a message's raw text) can be collected right away, and are written
 * with one call per flush (a gathered write) at the committed end, with a positioned write: a write that fails
 * half-way is simply written again over its own prefix (nothing doubles, nothing tears), and what failed stays here
 * until a later flush gets it onto the disk. Written blocks go back to the pool; a file with nothing waiting holds
 * none.
 *
 * @internal
 */
export class AppendBuffer {
  private readonly chain = new BlockChain()
  private takenItems = 0
  private stagedItems = 0
  // the file whose position is known to be the committed end (a write moves it on by what it wrote): the next write
  // to it needs no seek
  private positioned: FileSystem.File | undefined

  constructor(public committed: number, public committedItems = 0) {}

  /** Bytes waiting. */
  get pending(): number {
    return this.chain.bytes
  }

  /** Items waiting. */
  get pendingItems(): number {
    return this.stagedItems
  }

  /** Bytes of memory the buffer holds (whole blocks). */
  get capacity(): number {
    return this.chain.capacity
  }

  append(part: string | Uint8Array, items = 0): void {
    this.stagedItems += items
    if (typeof part === "string") this.chain.appendText(part)
    else this.chain.append(part)
  }

  /**
   * Everything waiting, as views of its blocks (written by `write`; again, with more, by a later flush if that
   * fails). Appends made before the write is done go after the views' ends; no block moves or is reused while it
   * waits.
   */
  take(): ReadonlyArray<Uint8Array> | undefined {
    if (this.chain.bytes === 0) return undefined
    this.takenItems = this.stagedItems
    return this.chain.views()
  }

  /** `bytes` (from `take`) reached the disk. */
  private written(bytes: number): void {
    this.committed += bytes
    this.committedItems += this.takenItems
    this.stagedItems -= this.takenItems
    this.takenItems = 0
    this.chain.consume(bytes)
  }

  /** Gives up everything waiting; returns how many bytes that was. */
  drop(): number {
    const bytes = this.chain.bytes
    this.chain.forget()
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
