import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Transcript from "../Transcript.js"
import { forEachLine } from "./lines.js"

/**
 * `transcript.settled.jsonl`: the finals a session recorder no longer keeps in memory (see `Transcript.settle`),
 * one JSON line each, in the order they were moved out. A recorder keeps the last `WINDOW` seconds of a meeting's
 * transcript in memory and the rest here, so a session's memory does not grow with the length of its meeting (a
 * final of 16 words held about 2 KB of heap: 290 MB after 10 minutes of 500 meetings). The transcript exports are
 * rendered from this file and the finals in memory together (`Transcript.withSettled`).
 *
 * The file is appended to in the flush that moves finals out, with the tape and the control log; the checkpoint
 * says how many of its bytes belong to the state it holds, and a restart cuts the file back to that (what came
 * after is replayed from the tape and moved out again).
 *
 * @internal
 */

/** @internal */
export const FILE = "transcript.settled.jsonl"

/** The line of one final. @internal */
export const line = (utterance: Transcript.Utterance): string => JSON.stringify(utterance) + "\n"

/**
 * The finals in the first `bytes` bytes of the file, written by this process (so parsed without a schema check);
 * none when the file holds fewer bytes than that (a write that has not reached the disk yet) or does not parse.
 *
 * @internal
 */
export const read = (
  path: string,
  bytes: number
): Effect.Effect<
  Option.Option<ReadonlyArray<Transcript.Utterance>>,
  PlatformError.PlatformError,
  FileSystem.FileSystem
> =>
  Effect.suspend(() => {
    const out: Array<Transcript.Utterance> = []
    let parses = true
    return forEachLine(path, 0, (text) => {
      if (!parses) return
      try {
        out.push(JSON.parse(text))
      } catch {
        // not what this process wrote (changed under it): the transcript files wait for a restart, which reads the
        // file back with every check
        parses = false
      }
    }, bytes).pipe(Effect.map((size) => (bytes === 0 || size >= bytes) && parses ? Option.some(out) : Option.none()))
  })

const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(Transcript.Utterance))

/**
 * Reads the file of an earlier run back for a restart: cut to the `bytes` a checkpoint counted (0 without one),
 * every line checked. A Left when the file holds fewer bytes than that or a line does not decode (the restart then
 * replays the logs from their start instead).
 *
 * @internal
 */
export const restore = (
  path: string,
  bytes: number
): Effect.Effect<
  Either.Either<ReadonlyArray<Transcript.Utterance>, string>,
  PlatformError.PlatformError,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs.exists(path)
    if (!exists) return bytes === 0 ? Either.right([]) : Either.left(`${FILE} is missing`)
    const size = Number((yield* fs.stat(path)).size)
    if (size < bytes) return Either.left(`${FILE} holds ${size} of ${bytes} bytes`)
    if (size > bytes) yield* fs.truncate(path, bytes)
    const out: Array<Transcript.Utterance> = []
    let bad: string | undefined
    yield* forEachLine(path, 0, (text) => {
      if (bad !== undefined) return
      const decoded = decodeLine(text)
      if (Either.isRight(decoded)) out.push(decoded.right)
      else bad = `a line of ${FILE} does not decode`
    })
    return bad === undefined ? Either.right(out) : Either.left(bad)
  })

/**
 * Seconds of meeting time a recorder keeps in memory behind the latest final: what is older is moved out. Late finals
 * and repeats are handled however old they are (see `Transcript.settle`), so this needs to cover nothing but the
 * partials that arrive after their final.
 *
 * @internal
 */
export const WINDOW = 10
