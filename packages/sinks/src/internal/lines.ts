import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/**
 * Reading the append-only logs of a session folder (the tape, the control log) line by line from a byte offset,
 * and repairing the one thing a kill can leave in them: a last line cut short.
 *
 * @internal
 */

const CHUNK = 1 << 20
const NEWLINE = 0x0a

const sizeOf = (fs: FileSystem.FileSystem, path: string) =>
  Effect.flatMap(
    fs.exists(path),
    (exists) => exists ? Effect.map(fs.stat(path), (info) => Number(info.size)) : Effect.succeed(-1)
  )

/**
 * Cuts a last line that has no newline (a write a kill interrupted: it was never reported as written), so every
 * line left is whole and the next append starts a line of its own. The file's size after that; -1 when it does not
 * exist.
 *
 * @internal
 */
export const repairTail = (path: string): Effect.Effect<number, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const size = yield* sizeOf(fs, path)
    if (size <= 0) return size
    return yield* Effect.scoped(Effect.gen(function*() {
      const file = yield* fs.open(path, { flag: "r+" })
      let end = size
      while (end > 0) {
        const from = Math.max(0, end - CHUNK)
        yield* file.seek(from, "start")
        const bytes = Option.getOrElse(yield* file.readAlloc(end - from), () => new Uint8Array(0))
        const last = bytes.lastIndexOf(NEWLINE)
        if (last !== -1) {
          const keep = from + last + 1
          if (keep !== size) yield* file.truncate(keep)
          return keep
        }
        end = from
      }
      yield* file.truncate(0)
      return 0
    }))
  })

/**
 * Calls `onLine` with every whole line from byte `from` on (without its newline) and the byte offset just after it;
 * with `to`, only the lines that end by that offset (a file that others may be appending to). Returns the size the
 * file had (-1 when it does not exist).
 *
 * @internal
 */
export const forEachLine = (
  path: string,
  from: number,
  onLine: (line: string, end: number) => void,
  to?: number
): Effect.Effect<number, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const found = yield* sizeOf(fs, path)
    const size = to === undefined ? found : Math.min(found, to)
    if (size <= from) return found
    yield* Effect.scoped(Effect.gen(function*() {
      const file = yield* fs.open(path, { flag: "r" })
      const decoder = new TextDecoder()
      let carry: Uint8Array = new Uint8Array(0)
      let offset = from
      while (offset < size) {
        yield* file.seek(offset, "start")
        const read = yield* file.readAlloc(Math.min(CHUNK, size - offset))
        if (Option.isNone(read)) break
        const bytes = carry.byteLength === 0 ? read.value : Buffer.concat([carry, read.value])
        const base = offset - carry.byteLength
        let start = 0
        for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, start)) {
          onLine(decoder.decode(bytes.subarray(start, i)), base + i + 1)
          start = i + 1
        }
        carry = bytes.subarray(start)
        offset += read.value.byteLength
      }
    }))
    return found
  })
