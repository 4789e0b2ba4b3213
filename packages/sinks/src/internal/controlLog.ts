import { SessionEvent } from "@callstream/core"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/**
 * `control.jsonl`: the control events of a session (session started and ended, connections, gaps, drops, decode
 * failures), which are not messages and so have no place in the tape. One JSON line each:
 * `{"after": <tape lines before it>, "event": <the control event as its schema encodes it>}`. `after` puts the
 * event back between the same two messages when a restart replays both logs, so the tape stays a tape of raw
 * messages only (`Tape.read`, `callstream replay` and `inspect` read it as before).
 *
 * The recorder's own record goes there too: `{"after": ..., "givenUp": {"file": <an H.264 stream>, "bytes": n}}`
 * when it gave up n bytes of a stream that could not be written for too long. A stream is appended to, so from
 * then on it holds n bytes fewer than the frames applied before put into it, and a restart, which cuts each stream
 * back to the bytes its checkpoint counted plus the frames it replays, counts them out (see `Restore`).
 *
 * @internal
 */

/** @internal */
export const FILE = "control.jsonl"

const EventLine = Schema.Struct({ after: Schema.Number, event: SessionEvent.ControlEvent })

const GivenUpLine = Schema.Struct({
  after: Schema.Number,
  givenUp: Schema.Struct({ file: Schema.String, bytes: Schema.NonNegativeInt })
})

/** A line of the log: a control event, or bytes of a stream given up. @internal */
export type Line = typeof EventLine.Type | typeof GivenUpLine.Type

const Line = Schema.Union(EventLine, GivenUpLine)

const encodeEvent = Schema.encodeSync(EventLine)
const decode = Schema.decodeUnknownEither(Schema.parseJson(Line))

/** One line of the log (with its newline). @internal */
export const format = (after: number, event: SessionEvent.ControlEvent): string =>
  JSON.stringify(encodeEvent({ after, event })) + "\n"

/** The line that records `bytes` of the stream `file` given up (with its newline). @internal */
export const formatGivenUp = (after: number, file: string, bytes: number): string =>
  JSON.stringify({ after, givenUp: { file, bytes } }) + "\n"

/** One line read back (without its newline). @internal */
export const parse = (line: string): Either.Either<Line, unknown> => decode(line)
