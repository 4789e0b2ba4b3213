import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"

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

/** Keeps a file name to letters, digits, `.`, `_` and `-`. */
export const safeName = (name: string): string => {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, "_")
  return safe === "" || safe === "." || safe === ".." ? "_" : safe
}
