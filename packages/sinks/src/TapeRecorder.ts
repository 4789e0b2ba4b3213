/**
 * Appends every message of a session to a tape (`events.jsonl`, core's `Tape` format), so the session can be
 * replayed. The raw text that arrived is written unchanged when the source kept it (`Message.raw`), unknown
 * fields and all; otherwise the decoded event is encoded back. A message that carries a `position` (see
 * `SessionEvent.Position`) keeps it on its line. `at` counts seconds from the first message this recorder wrote;
 * continuing an existing tape starts where its last line left off, so `at` never goes back.
 *
 * Lines are collected in memory and written by `flush`, all of them in one call, at the end of what is known to
 * be on disk: a write that fails (a full disk) keeps its lines for the next flush, and one that fails half-way is
 * written again over its own start, so the tape never holds a line twice or half a line. Closing the scope
 * flushes. Opening a tape whose last line was cut short (a kill during a write) removes that line, so every line
 * of the file parses.
 *
 * @example
 * ```ts
 * import { TapeRecorder } from "@callstream/sinks"
 * import type { SessionEvent } from "@callstream/core"
 * import { Effect } from "effect"
 *
 * const keep = (messages: ReadonlyArray<SessionEvent.Message>) =>
 *   Effect.scoped(
 *     Effect.gen(function*() {
 *       const tape = yield* TapeRecorder.make("events.jsonl")
 *       yield* Effect.forEach(messages, tape.record, { discard: true })
 *       yield* tape.flush // or let the scope's end do it
 *     })
 *   )
 * ```
 *
 * @since 0.1.0
 */
import { type SessionEvent, Tape } from "@callstream/core"
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { AppendBuffer } from "./internal/appendBuffer.js"
import { repairTail } from "./internal/lines.js"
import { lineMaker } from "./internal/tapeLine.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface TapeRecorder {
  readonly path: string
  /** Adds a message's line; it reaches the file with the next `flush`, at the latest when the scope closes. */
  readonly record: (message: SessionEvent.Message) => Effect.Effect<void>
  /**
   * `record`, as a plain function, for callers that apply many events in one synchronous step.
   *
   * @since 0.2.0
   */
  readonly stage: (message: SessionEvent.Message) => void
  /**
   * Writes every line recorded and not yet written, in one call. On failure they stay for the next flush.
   *
   * @since 0.2.0
   */
  readonly flush: Effect.Effect<void, PlatformError.PlatformError>
  /** Lines recorded by this recorder (written or not). */
  readonly lines: Effect.Effect<number>
  /**
   * How much of the tape is on disk: its size in bytes and its lines (counted from `Options.lines`).
   *
   * @since 0.2.0
   */
  readonly committed: Effect.Effect<Committed>
  /**
   * Bytes recorded and not yet written.
   *
   * @since 0.2.0
   */
  readonly pending: Effect.Effect<number>
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Committed {
  readonly bytes: number
  readonly lines: number
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The lines the file holds already, when the caller knows (counts in `committed` start from it). Default 0. */
  readonly lines?: number | undefined
  /** The `at` of the file's last line, when the caller knows; read from the file otherwise. */
  readonly lastAt?: number | undefined
}

const TAIL_BYTES = 1 << 20

/**
 * The `at` of the last complete line of a tape file (0 when there is none). Reads at most the last MiB.
 *
 * @since 0.1.0
 * @category accessors
 */
export const lastAt = (path: string): Effect.Effect<number, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(path))) return 0
    const size = Number((yield* fs.stat(path)).size)
    const file = yield* fs.open(path, { flag: "r" })
    const from = Math.max(0, size - TAIL_BYTES)
    yield* file.seek(from, "start")
    const tail = yield* file.readAlloc(size - from)
    const text = new TextDecoder().decode(Option.getOrElse(tail, () => new Uint8Array(0)))
    const lines = text.split("\n")
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i]!.trim()
      if (line === "") continue
      const entry = Tape.parseLine(line)
      if (Either.isRight(entry)) return entry.right.at
    }
    return 0
  }))

/**
 * A recorder appending to `path` (created if missing) for the life of the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  path: string,
  options?: Options
): Effect.Effect<TapeRecorder, PlatformError.PlatformError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const size = Math.max(0, yield* repairTail(path))
    const offset = options?.lastAt ?? (yield* lastAt(path))
    if (size === 0) yield* fs.writeFile(path, new Uint8Array(0))
    const file = yield* fs.open(path, { flag: "r+" })
    const buffer = new AppendBuffer(size, options?.lines ?? 0)
    const lineOf = lineMaker(offset)
    let count = 0
    const stage = (message: SessionEvent.Message): void => {
      count++
      lineOf(message, buffer)
    }
    const flush = Effect.suspend(() => buffer.write(file, buffer.take()))
    yield* Effect.addFinalizer(() => Effect.ignore(flush))
    return {
      path,
      stage,
      record: (message) => Effect.sync(() => stage(message)),
      flush,
      lines: Effect.sync(() => count),
      committed: Effect.sync(() => ({ bytes: buffer.committed, lines: buffer.committedItems })),
      pending: Effect.sync(() => buffer.pending)
    }
  })
