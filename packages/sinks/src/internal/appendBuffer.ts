import type * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"

/**
 * What is waiting to be appended to one file, and how much of the file is known to be on disk (`committed`: bytes
 * and items, e.g. tape lines). Appends are collected in memory and written with one call per flush at the
 * committed end, with a positioned write: a write that fails half-way is simply written again over its own prefix
 * (nothing doubles, nothing tears), and what failed stays here until a later flush gets it onto the disk.
 *
 * @internal
 */
export class AppendBuffer {
  private parts: Array<string | Uint8Array> = []
  private taken: Uint8Array | undefined
  private takenItems = 0
  private stagedItems = 0
  private staged = 0

  constructor(public committed: number, public committedItems = 0) {}

  /** Bytes waiting (strings counted by length until they are encoded). */
  get pending(): number {
    return this.staged
  }

  /** Items waiting. */
  get pendingItems(): number {
    return this.stagedItems
  }

  append(part: string | Uint8Array, items = 0): void {
    this.parts.push(part)
    this.staged += typeof part === "string" ? part.length : part.byteLength
    this.stagedItems += items
  }

  /** Everything waiting, as one buffer (the same one again until it is written or dropped). */
  take(): Uint8Array | undefined {
    if (this.parts.length === 0) return undefined
    if (this.parts.length === 1 && this.parts[0] === this.taken) return this.taken
    const bytes = this.parts.every((part) => typeof part === "string")
      ? Buffer.from((this.parts as Array<string>).join(""))
      : Buffer.concat(this.parts.map((part) => typeof part === "string" ? Buffer.from(part) : part))
    this.parts = [bytes]
    this.taken = bytes
    this.takenItems = this.stagedItems
    this.staged = bytes.byteLength
    return bytes
  }

  /** `bytes` (from `take`) reached the disk. */
  written(bytes: Uint8Array): void {
    if (this.parts[0] !== bytes) return
    this.parts.shift()
    this.taken = undefined
    this.committed += bytes.byteLength
    this.committedItems += this.takenItems
    this.staged -= bytes.byteLength
    this.stagedItems -= this.takenItems
    this.takenItems = 0
  }

  /** Gives up everything waiting; returns how many bytes that was. */
  drop(): number {
    const bytes = this.staged
    this.parts = []
    this.taken = undefined
    this.staged = 0
    this.stagedItems = 0
    this.takenItems = 0
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
