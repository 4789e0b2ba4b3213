/**
 * Turns websocket frames into {@link RecallEvent}s, and events back into wire JSON.
 *
 * Decoding reads the cheap part first: the frame is parsed once, the `event` name picks the one schema that can
 * apply (no union search), and that schema checks the message. A media message's buffer (nearly all of its text)
 * is not parsed into a string of its own: it is checked as base64 where it stands and taken as a slice of the
 * frame's text, so an event held in a queue holds its text once. A name no schema knows becomes an
 * `UnknownEvent` without further checks. Decoding never throws and never dies: every failure is a
 * {@link DecodeError} with a `reason`, the event name when it could be read, and the Schema issue with its path
 * (cut to {@link MAX_ISSUE_LENGTH} characters, since an issue quotes the offending value).
 *
 * @example
 * ```ts
 * import { Decoder } from "@callstream/core"
 * import { Effect } from "effect"
 *
 * const program = Decoder.decode('{"event":"participant_events.join","data":{}}').pipe(
 *   Effect.catchTag("DecodeError", (error) => Effect.logWarning(error.message))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as Base64 from "./internal/base64.js"
import * as Guard from "./internal/guard.js"
import * as RecallEvent from "./RecallEvent.js"

/**
 * Why a frame could not be decoded: `InvalidJson` (not UTF-8 JSON), `InvalidShape` (JSON, but not a Recall
 * message the schemas accept) or `InternalError` (handling the frame failed in a way nothing anticipated: a bug,
 * reported for that one frame instead of taking anything else down).
 *
 * @since 0.1.0
 * @category errors
 */
export const DecodeErrorReason = Schema.Literal("InvalidJson", "InvalidShape", "InternalError")

/**
 * @since 0.1.0
 * @category errors
 */
export type DecodeErrorReason = typeof DecodeErrorReason.Type

/**
 * A frame that is not a valid Recall message. It crosses files (`session.json`) and wires, so it is a Schema
 * class.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  reason: DecodeErrorReason,
  /** The event name, when the frame got far enough to name one. */
  event: Schema.optional(Schema.String),
  /** Where in the message the first problem is, e.g. `data.data.participant.id` (empty for the root). */
  path: Schema.String,
  /** What was wrong, for humans. */
  issue: Schema.String,
  /** The frame's size in bytes (UTF-16 code units for a text frame). */
  bytes: Schema.Number
}) {
  override get message(): string {
    const where = this.path === "" ? "" : ` at ${this.path}`
    const what = this.event === undefined ? "" : ` (${this.event})`
    return `${this.reason}${what}${where}: ${this.issue}`
  }
}

/**
 * A websocket frame: a text frame as a string, a binary frame as bytes.
 *
 * @since 0.1.0
 * @category models
 */
export type Frame = string | Uint8Array

const parseOptions = { errors: "first", onExcessProperty: "ignore" } as const

const decoders = Object.fromEntries(
  RecallEvent.eventNames.map((
    name
  ) => [name, Schema.decodeUnknownEither(RecallEvent.schemas[name] as Schema.Schema<any>, parseOptions)])
) as Record<RecallEvent.EventName, (input: unknown) => Either.Either<RecallEvent.KnownEvent, ParseResult.ParseError>>

// A valid message already is its decoded value (the schemas transform nothing), so the hot path only checks it
// with a predicate compiled from the schema; Effect's parser runs only to explain a failure.
const guards = Object.fromEntries(
  RecallEvent.eventNames.map((name) => [name, Guard.compile(SchemaAST.typeAST(RecallEvent.schemas[name].ast))])
) as Record<RecallEvent.EventName, Guard.Guard>

const encoders = Object.fromEntries(
  RecallEvent.eventNames.map((name) => [name, Schema.encodeSync(RecallEvent.schemas[name] as Schema.Schema<any>)])
) as Record<RecallEvent.EventName, (event: RecallEvent.KnownEvent) => unknown>

/**
 * How many characters of a Schema issue a {@link DecodeError} keeps: an issue quotes the value it rejects, which
 * can be as large as the frame.
 *
 * @since 0.2.0
 * @category errors
 */
export const MAX_ISSUE_LENGTH = 500

const cut = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text

const frameText = (frame: Frame): string =>
  typeof frame === "string" ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString("utf8")

const shapeError = (bytes: number, event: string, error: ParseResult.ParseError): DecodeError => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  return new DecodeError({
    reason: "InvalidShape",
    event,
    path: first === undefined ? "" : first.path.join("."),
    issue: cut(
      first === undefined ? ParseResult.TreeFormatter.formatErrorSync(error) : first.message,
      MAX_ISSUE_LENGTH
    ),
    bytes
  })
}

/** Runs Effect's parser on a message the guard rejected, to say what is wrong with it. */
const explain = (
  name: RecallEvent.EventName,
  json: unknown,
  bytes: number
): Either.Either<RecallEvent.RecallEvent, DecodeError> => {
  try {
    const result = decoders[name](json)
    return Either.isRight(result) ? Either.right(result.right) : Either.left(shapeError(bytes, name, result.left))
  } catch {
    // describing a value nested thousands of levels deep overflows the stack: say so without the details
    return Either.left(
      new DecodeError({
        reason: "InvalidShape",
        event: name,
        path: "",
        issue: `Not a valid ${name} message (nested too deeply to say where)`,
        bytes
      })
    )
  }
}

/**
 * The {@link DecodeError} that stands for an unexpected failure (`cause`) while handling one frame of `bytes`, so
 * that the failure is reported for that frame and nothing else is affected.
 *
 * @since 0.2.0
 * @category errors
 */
export const internalError = (cause: unknown, bytes: number): DecodeError => {
  let detail = "unknown failure"
  try {
    detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)
  } catch {
    // a value whose conversion to text throws says nothing more
  }
  return new DecodeError({
    reason: "InternalError",
    path: "",
    issue: cut(`Unexpected failure while handling the frame (${detail})`, MAX_ISSUE_LENGTH),
    bytes
  })
}

const invalidJson = (cause: unknown, bytes: number): DecodeError =>
  new DecodeError({
    reason: "InvalidJson",
    path: "",
    issue: cut(cause instanceof Error ? cause.message : "Not JSON", MAX_ISSUE_LENGTH),
    bytes
  })

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Decodes a value already parsed from JSON. The synchronous core of every decoder here.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeJsonEither = (json: unknown, bytes = 0): Either.Either<RecallEvent.RecallEvent, DecodeError> => {
  if (!isRecord(json)) {
    return Either.left(
      new DecodeError({ reason: "InvalidShape", path: "", issue: "Expected an object with an event name", bytes })
    )
  }
  const name = json.event
  if (typeof name !== "string") {
    return Either.left(
      new DecodeError({ reason: "InvalidShape", path: "event", issue: "Expected the event name as a string", bytes })
    )
  }
  if (!RecallEvent.isEventName(name)) {
    return Either.right({ event: "unknown", name, data: json.data })
  }
  let valid: boolean
  try {
    valid = guards[name](json)
  } catch (cause) {
    return Either.left(internalError(cause, bytes))
  }
  return valid ? Either.right(json as RecallEvent.KnownEvent) : explain(name, json, bytes)
}

const BUFFER_KEY = "\"buffer\":\""
const BUFFER_NAME = "\"buffer\""
/** A media buffer shorter than this is parsed with its message: cutting it out would save little. */
const MIN_CUT = 64
/** Nor is one longer than this (the check below decodes it into a scratch buffer of at most this size). */
const MAX_CUT_BYTES = 1024 * 1024
let scratch = Buffer.allocUnsafe(0)

/**
 * Where a media buffer is in a message's text, when the text can be parsed without it and give the same value:
 * the text has no backslash (no escape anywhere, so every key and value is written as it reads), one `"buffer"`
 * alone, written `"buffer":"`, and the string after it is padded standard base64 (so it holds no quote, backslash
 * or control character: the text is valid JSON exactly when it is valid with that string emptied). The check of the
 * base64 is a decode into a scratch buffer (about 1 µs for 100 ms of audio), far cheaper than the copy of the
 * string a parse makes and the collector then reclaims.
 */
const bufferSpan = (text: string): readonly [start: number, end: number] | undefined => {
  const span = spanOf(text)
  if (span === undefined) return undefined
  const buffer = text.slice(span[0], span[1])
  const bytes = Base64.decodedLength(buffer)
  if (bytes > MAX_CUT_BYTES) return undefined
  if (scratch.length < bytes) scratch = Buffer.allocUnsafe(Math.min(MAX_CUT_BYTES, Math.max(bytes, 2 * scratch.length)))
  return Base64.decodeInto(buffer, scratch) === undefined ? undefined : span
}

/** Where `bufferSpan` looks for a media buffer, before it checks the buffer's base64. */
const spanOf = (text: string): readonly [start: number, end: number] | undefined => {
  const key = text.indexOf(BUFFER_NAME)
  if (key < 0 || !text.startsWith(BUFFER_KEY, key)) return undefined
  const start = key + BUFFER_KEY.length
  const end = text.indexOf("\"", start)
  if (end - start < MIN_CUT || text.indexOf(BUFFER_NAME, end) >= 0 || text.indexOf("\\") >= 0) return undefined
  return [start, end]
}

/**
 * The JSON value of a message's text: a media message is parsed without its buffer (see `bufferSpan`), which then
 * becomes a slice of the text instead of a copy of it (nearly all of a media message is its buffer). Throws what
 * `JSON.parse` throws.
 */
const parseText = (text: string, find = bufferSpan): unknown => {
  const span = text.length >= MIN_CUT ? find(text) : undefined
  if (span === undefined) return JSON.parse(text)
  let json: unknown
  try {
    json = JSON.parse(text.slice(0, span[0]) + text.slice(span[1]))
  } catch {
    // not JSON: the whole text's parse says where, in its own words
    return JSON.parse(text)
  }
  const inner = isRecord(json) && isRecord(json.data) ? json.data.data : undefined
  // the one "buffer" of the text was not where a media event has it: parsed whole, as any other message
  if (!isRecord(inner) || inner.buffer !== "") return JSON.parse(text)
  inner.buffer = text.slice(span[0], span[1])
  return json
}

/**
 * Decodes one frame synchronously, returning an `Either`. This is the hot path: use it where an Effect per
 * frame would cost too much (a socket reader, a tape scan). A media event's buffer is a slice of the frame's text
 * (it keeps that text, not a copy of its own).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeEither = (frame: Frame): Either.Either<RecallEvent.RecallEvent, DecodeError> => {
  const bytes = typeof frame === "string" ? frame.length : frame.byteLength
  let json: unknown
  try {
    json = parseText(frameText(frame))
  } catch (cause) {
    return Either.left(invalidJson(cause, bytes))
  }
  return decodeJsonEither(json, bytes)
}

/**
 * Decodes the text of a frame that {@link decodeEither} accepted before, in this same build, without checking it
 * again: the media buffer's base64 and the event's schema are taken as they are (the value is the same as the
 * checked decoding's). For text that goes on from one part of a program to another (the recorder thread of
 * `callstream serve` gets the text the server decoded), where checking twice costs a third of the decoding. Text that
 * was never accepted may give an event that does not match its type: decode anything else with
 * {@link decodeEither}. Fails only on text that is not JSON, as `decodeEither` does.
 *
 * @since 0.2.0
 * @category decoding
 */
export const decodeAcceptedEither = (text: string): Either.Either<RecallEvent.RecallEvent, DecodeError> => {
  let json: unknown
  try {
    json = parseText(text, spanOf)
  } catch (cause) {
    return Either.left(invalidJson(cause, text.length))
  }
  if (!isRecord(json) || typeof json.event !== "string") return decodeJsonEither(json, text.length)
  return RecallEvent.isEventName(json.event)
    ? Either.right(json as RecallEvent.KnownEvent)
    : Either.right({ event: "unknown", name: json.event, data: json.data })
}

/**
 * Decodes one frame (text or binary) into a {@link RecallEvent}.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (frame: Frame): Effect.Effect<RecallEvent.RecallEvent, DecodeError> => decodeEither(frame)

/**
 * Turns an event back into the value Recall sends (before `JSON.stringify`). An `UnknownEvent` gets its wire name
 * back.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (event: RecallEvent.RecallEvent): unknown =>
  event.event === "unknown" ? { event: event.name, data: event.data } : encoders[event.event](event)

/**
 * Turns an event back into the JSON text Recall sends.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeJson = (event: RecallEvent.RecallEvent): string => JSON.stringify(encode(event))
