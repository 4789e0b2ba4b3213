/**
 * Writing several buffers to a file with one call (a gathered write, `writev`). A recorder keeps what waits for a
 * file in blocks (see the session recorder), and a file that can take them in one call does: one system call per file
 * per flush, however many blocks. `FileSystem.File` has no such call, so a file offers it by carrying `TypeId` (the
 * recorder thread's synchronous files do); any other file gets the buffers joined into one, with one `writeAll`
 * (one write each would leave the file ending mid-line between them, for whoever reads it meanwhile).
 *
 * @example
 * import { GatheredWrite } from "@callstream/sinks"
 * import * as FileSystem from "@effect/platform/FileSystem"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function*() {
 *   const fs = yield* FileSystem.FileSystem
 *   const file = yield* fs.open("/tmp/out.txt", { flag: "w" })
 *   yield* GatheredWrite.writeAll(file, [Buffer.from("one "), Buffer.from("two\n")])
 * })
 *
 * @since 0.2.0
 */
import type * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"

/**
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@callstream/sinks/GatheredWrite")

/**
 * A file that writes several buffers at its position with one call, all of them or fails (a write cut short goes on
 * from where it stopped).
 *
 * @since 0.2.0
 * @category models
 */
export interface GatheringFile extends FileSystem.File {
  readonly [TypeId]: (buffers: ReadonlyArray<Uint8Array>) => Effect.Effect<void, PlatformError.PlatformError>
}

/**
 * @since 0.2.0
 * @category guards
 */
export const isGathering = (file: FileSystem.File): file is GatheringFile => TypeId in file

/**
 * Writes `buffers` one after the other at the file's position, with one call: gathered when the file can, else
 * joined first.
 *
 * @since 0.2.0
 * @category writing
 */
export const writeAll = (
  file: FileSystem.File,
  buffers: ReadonlyArray<Uint8Array>
): Effect.Effect<void, PlatformError.PlatformError> => {
  if (buffers.length === 1) return file.writeAll(buffers[0]!)
  if (buffers.length === 0) return Effect.void
  if (isGathering(file)) return file[TypeId](buffers)
  return file.writeAll(Buffer.concat(buffers))
}
