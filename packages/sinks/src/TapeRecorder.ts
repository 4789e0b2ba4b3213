/**
 * Appends every message of a session to a tape (`events.jsonl`, core's `Tape` format), so the session can be
 * replayed. The raw text that arrived is written unchanged when the source kept it (`Message.raw`), unknown
 * fields and all; otherwise the decoded event is encoded back. `at` counts seconds from the first message this
 * recorder wrote; continuing an existing tape starts where its last line left off, so `at` never goes back.
 *
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
 *     })
 *   )
 * ```
 *
 * @since 0.1.0
 */
import { Decoder, type SessionEvent, Tape } from "@callstream/core"
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"

/**
 * @since 0.1.0
 * @category models
 */
export interface TapeRecorder {
  readonly path: string
  readonly record: (message: SessionEvent.Message) => Effect.Effect<void, PlatformError.PlatformError>
  /** Lines written by this recorder. */
  readonly lines: Effect.Effect<number>
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
  path: string
): Effect.Effect<TapeRecorder, PlatformError.PlatformError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const offset = yield* lastAt(path)
    // a line cut short by a kill is ended, so the next line starts clean
    const size = (yield* fs.exists(path)) ? Number((yield* fs.stat(path)).size) : 0
    const file = yield* fs.open(path, { flag: "a" })
    if (size > 0) {
      const last = yield* Effect.scoped(
        Effect.flatMap(
          fs.open(path, { flag: "r" }),
          (reader) => reader.seek(size - 1, "start").pipe(Effect.zipRight(reader.readAlloc(1)))
        )
      )
      if (Option.isSome(last) && last.value[0] !== 0x0a) yield* file.writeAll(new Uint8Array([0x0a]))
    }
    const encoder = new TextEncoder()
    let origin: number | undefined
    let count = 0
    return {
      path,
      lines: Effect.sync(() => count),
      record: (message) =>
        Effect.suspend(() => {
          origin ??= message.receivedAt
          const at = Math.round((offset + Math.max(0, message.receivedAt - origin) / 1000) * 1000) / 1000
          const line = Tape.formatLine(at, message.raw === undefined ? Decoder.encode(message.event) : undefined, {
            raw: message.raw
          })
          count++
          return file.writeAll(encoder.encode(line))
        })
    }
  })
