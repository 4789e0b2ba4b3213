import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { forEachLine } from "./lines.js"

/**
 * A file of what a session recorder moved out of memory: one JSON line per value, in the order they were moved out,
 * appended in the flush that moves them, with the tape and the control log. The checkpoint says how many of its
 * bytes belong to the state it holds, and a restart cuts the file back to that (what came after is replayed from the
 * tape and moved out again). `SettledTranscript` (the transcript's older finals) and `SettledIntervals` (the
 * participants' older closed intervals) are the two.
 *
 * @internal
 */
export interface SettledLog<A> {
  /** The file's name in a session folder. */
  readonly FILE: string
  /** The line of one value. */
  readonly line: (value: A) => string
  /**
   * The values in the first `bytes` bytes of the file, written by this process (so parsed without a schema check);
   * none when the file holds fewer bytes than that (a write that has not reached the disk yet) or does not parse.
   */
  readonly read: (
    path: string,
    bytes: number
  ) => Effect.Effect<Option.Option<ReadonlyArray<A>>, PlatformError.PlatformError, FileSystem.FileSystem>
  /**
   * Reads the file of an earlier run back for a restart: cut to the `bytes` a checkpoint counted (0 without one),
   * every line checked. A Left when the file holds fewer bytes than that or a line does not decode (the restart then
   * replays the logs from their start instead).
   */
  readonly restore: (
    path: string,
    bytes: number
  ) => Effect.Effect<Either.Either<ReadonlyArray<A>, string>, PlatformError.PlatformError, FileSystem.FileSystem>
}

/** The log of `file`, of values of a schema that is its own JSON encoding (plain strings, numbers, arrays). @internal */
export const make = <A>(file: string, schema: Schema.Schema<A, A>): SettledLog<A> => {
  const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(schema))
  return {
    FILE: file,
    line: (value) => JSON.stringify(value) + "\n",
    read: (path, bytes) =>
      Effect.suspend(() => {
        const out: Array<A> = []
        let parses = true
        return forEachLine(path, 0, (text) => {
          if (!parses) return
          try {
            out.push(JSON.parse(text))
          } catch {
            // not what this process wrote (changed under it): the files rendered from it wait for a restart, which
            // reads the file back with every check
            parses = false
          }
        }, bytes).pipe(
          Effect.map((size) => (bytes === 0 || size >= bytes) && parses ? Option.some(out) : Option.none())
        )
      }),
    restore: (path, bytes) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const exists = yield* fs.exists(path)
        if (!exists) return bytes === 0 ? Either.right([]) : Either.left(`${file} is missing`)
        const size = Number((yield* fs.stat(path)).size)
        if (size < bytes) return Either.left(`${file} holds ${size} of ${bytes} bytes`)
        if (size > bytes) yield* fs.truncate(path, bytes)
        const out: Array<A> = []
        let bad: string | undefined
        yield* forEachLine(path, 0, (text) => {
          if (bad !== undefined) return
          const decoded = decodeLine(text)
          if (Either.isRight(decoded)) out.push(decoded.right)
          else bad = `a line of ${file} does not decode`
        })
        return bad === undefined ? Either.right(out) : Either.left(bad)
      })
  }
}
