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
 * @internal
 */

/** @internal */
export const FILE = "control.jsonl"

const Line = Schema.Struct({ after: Schema.Number, event: SessionEvent.ControlEvent })

const encode = Schema.encodeSync(Line)
const decode = Schema.decodeUnknownEither(Schema.parseJson(Line))

/** One line of the log (with its newline). @internal */
export const format = (after: number, event: SessionEvent.ControlEvent): string =>
  JSON.stringify(encode({ after, event })) + "\n"

/** One line read back (without its newline). @internal */
export const parse = (
  line: string
): Either.Either<{ readonly after: number; readonly event: SessionEvent.ControlEvent }, unknown> => decode(line)
