import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as SessionFolder from "../SessionFolder.js"

/** Replaces a file's content in one step (write a temporary file, then rename), so readers never see half. */
export const replaceFile = (
  path: string,
  text: string
): Effect.Effect<void, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => {
    const temporary = `${path}.partial`
    return fs.writeFileString(temporary, text).pipe(Effect.zipRight(fs.rename(temporary, path)))
  })

/** Reads and parses a JSON file; none when it does not exist or does not parse. */
export const readJson = (path: string): Effect.Effect<unknown, never, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.readFileString(path).pipe(
      Effect.flatMap((text) => Effect.try(() => JSON.parse(text) as unknown)),
      Effect.orElseSucceed(() => undefined)
    ))

/**
 * A file name for a string from the wire: itself when it is a safe name, else a readable prefix and a hash, so two
 * different strings never name the same file (the rules of `SessionFolder`, shared by session folders and by the
 * participant files inside them).
 */
export const safeName = (name: string): string => SessionFolder.nameOf(name)
