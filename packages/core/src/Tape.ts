/**
 * Tapes: a meeting's websocket messages as JSON Lines, one `{"at": seconds, "message": <what Recall sent>}` a
 * line, where `at` counts seconds since the first connection. Tapes are what the recorder writes, what the
 * simulator replays and what tests feed to pipelines. A line may also carry the message's `position` in the log of
 * a source that has one (see `SessionEvent.Position`); readers that do not need it ignore it.
 *
 * @example
 * ```ts
 * import { Tape } from "@callstream/core"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect, Stream } from "effect"
 *
 * const count = Tape.read("meeting.jsonl").pipe(Stream.runCount, Effect.provide(NodeContext.layer))
 * ```
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { Opaque } from "./RecallEvent.js"

/**
 * One line of a tape.
 *
 * @since 0.1.0
 * @category models
 */
export const TapeEntry = Schema.Struct({
  at: Schema.Number,
  position: Schema.optional(Schema.String),
  message: Opaque
})

/**
 * @since 0.1.0
 * @category models
 */
export interface TapeEntry extends Schema.Schema.Type<typeof TapeEntry> {}

/**
 * A tape line that is not `{"at": number, "message": ...}`.
 *
 * @since 0.1.0
 * @category errors
 */
export class TapeError extends Data.TaggedError("TapeError")<{
  readonly reason: "InvalidLine"
  readonly line: number
  readonly cause: unknown
}> {
  override get message(): string {
    return `${this.reason} on tape line ${this.line}: ${String(this.cause)}`
  }
}

// exact: a line without "message" is invalid (Schema.Unknown would otherwise take the missing key as undefined)
const decodeEntry = Schema.decodeUnknownEither(TapeEntry, { exact: true })

/**
 * Parses one tape line (1-based `line` is for the error).
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseLine = (text: string, line = 1): Either.Either<TapeEntry, TapeError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return Either.left(new TapeError({ reason: "InvalidLine", line, cause }))
  }
  return Either.mapLeft(decodeEntry(json), (cause) => new TapeError({ reason: "InvalidLine", line, cause }))
}

const oneLine = (raw: string): string =>
  raw.indexOf("\n") === -1 && raw.indexOf("\r") === -1 ? raw : raw.replace(/[\r\n]+/g, " ")

/**
 * Formats one tape line (with its newline). `message` may be a value or the exact JSON text that arrived, which
 * is then kept byte for byte (line breaks, which JSON only allows as white space, become spaces). `position`, when
 * given, is written between `at` and `message`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const formatLine = (
  at: number,
  message: unknown,
  options?: { readonly raw?: string | undefined; readonly position?: string | undefined }
): string => {
  const body = options?.raw !== undefined ? oneLine(options.raw) : JSON.stringify(message)
  const position = options?.position === undefined ? "" : `"position":${JSON.stringify(options.position)},`
  return `{"at":${Number.isFinite(at) ? at : 0},${position}"message":${body}}\n`
}

/**
 * Parses a whole tape held in memory. Blank lines are skipped.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (text: string): Either.Either<ReadonlyArray<TapeEntry>, TapeError> => {
  const entries: Array<TapeEntry> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === "") continue
    const entry = parseLine(line, i + 1)
    if (Either.isLeft(entry)) return Either.left(entry.left)
    entries.push(entry.right)
  }
  return Either.right(entries)
}

/**
 * Reads a tape file as a Stream of its lines' entries, each one parsed or the error that says why it is not one: a
 * bad line (the torn last line of a tape whose writer was killed, say) is reported where it is and the lines after
 * it are still read. Only a file that cannot be read fails the Stream.
 *
 * @since 0.2.0
 * @category reading
 */
export const readEither = (
  path: string
): Stream.Stream<Either.Either<TapeEntry, TapeError>, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Stream.unwrap(Effect.map(FileSystem.FileSystem, (fs) => fs.stream(path))).pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.zipWithIndex,
    Stream.filter(([line]) => line.trim() !== ""),
    Stream.map(([line, index]) => parseLine(line, index + 1))
  )

/**
 * Reads a tape file as a Stream of entries, line by line (a tape of any size runs in constant memory). Fails at
 * the first line that is not an entry; {@link readEither} reads on past such lines.
 *
 * @since 0.1.0
 * @category reading
 */
export const read = (
  path: string
): Stream.Stream<TapeEntry, TapeError | PlatformError.PlatformError, FileSystem.FileSystem> =>
  readEither(path).pipe(Stream.mapEffect((entry) => entry))

/**
 * A Sink that appends entries to a tape file (created if missing), one write per chunk of entries.
 *
 * @since 0.1.0
 * @category writing
 */
export const write = (
  path: string
): Sink.Sink<void, TapeEntry, never, PlatformError.PlatformError, FileSystem.FileSystem> =>
  Sink.unwrapScoped(
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const file = yield* fs.open(path, { flag: "a" })
      const encoder = new TextEncoder()
      return Sink.forEachChunk((entries: Iterable<TapeEntry>) => {
        let text = ""
        for (const entry of entries) text += formatLine(entry.at, entry.message, { position: entry.position })
        return file.writeAll(encoder.encode(text))
      })
    })
  )
