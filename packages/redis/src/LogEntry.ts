/**
 * What one entry of a partition holds, and where a session's entries go. Every entry names one session. Receivers
 * write `Batch`es: consecutive events of one session, in order, each Recall message as its raw text (so a worker's
 * tape is byte for byte what a single process writes) and each control event as its Schema encoding. Workers write
 * `Expire` and `ReceiverLost` notes into the same partition, so that every decision about a session is taken from
 * the log, in the log's order, and a worker that takes a partition over decides exactly as its predecessor did.
 *
 * A `Batch` carries its receiver's sequence number (`seq`, increasing over everything the receiver writes), the
 * receiver's previous sequence number for the same session (`previous`, 0 for the first), and the receiver's
 * running counts of audio, video and other events of the session: a reader skips a batch it has already seen (a
 * write retried after a lost reply), and knows how many events of each kind are missing when a batch is.
 *
 * @example
 * ```ts
 * import { LogEntry } from "@callstream/redis"
 * import { SessionKey } from "@callstream/core"
 *
 * LogEntry.partitionOf(SessionKey.make("bot-1"), 16) // the same number on every machine, from 0 to 15
 * ```
 *
 * @since 0.2.0
 */
import * as Decoder from "@callstream/core/Decoder"
import * as RecallEvent from "@callstream/core/RecallEvent"
import * as SessionEvent from "@callstream/core/SessionEvent"
import { hash, SessionKey } from "@callstream/core/SessionKey"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * Running counts of a session's events by kind, as a receiver wrote them: `[audio, video, other]`.
 *
 * @since 0.2.0
 * @category models
 */
export type Counts = readonly [audio: number, video: number, other: number]

/**
 * Consecutive events of one session from one receiver.
 *
 * @since 0.2.0
 * @category models
 */
export interface Batch {
  readonly _tag: "Batch"
  readonly session: SessionKey
  readonly receiver: string
  readonly seq: number
  readonly previous: number
  readonly counts: Counts
  readonly events: ReadonlyArray<SessionEvent.SessionEvent>
}

/**
 * A worker's note that a session had no connection for its timeout, as seen at `at` (epoch ms).
 *
 * @since 0.2.0
 * @category models
 */
export interface Expire {
  readonly _tag: "Expire"
  readonly session: SessionKey
  readonly at: number
}

/**
 * A worker's note that a receiver stopped holding its liveness lease at `at` (epoch ms): its connections are gone.
 *
 * @since 0.2.0
 * @category models
 */
export interface ReceiverLost {
  readonly _tag: "ReceiverLost"
  readonly session: SessionKey
  readonly receiver: string
  readonly at: number
}

/**
 * @since 0.2.0
 * @category models
 */
export type LogEntry = Batch | Expire | ReceiverLost

// -----------------------------------------------------------------------------
// wire format
// -----------------------------------------------------------------------------

const MessageItem = Schema.Struct({ m: Schema.String, t: Schema.Number, c: Schema.optional(Schema.String) })
const ControlItem = Schema.Struct({ k: SessionEvent.ControlEvent })
const Count = Schema.NonNegativeInt

const BatchWire = Schema.Struct({
  s: SessionKey,
  r: Schema.String,
  q: Count,
  p: Count,
  n: Schema.Tuple(Count, Count, Count),
  i: Schema.Array(Schema.Union(MessageItem, ControlItem))
})
const ExpireWire = Schema.Struct({ s: SessionKey, x: Schema.Literal("expire"), t: Schema.Number })
const LostWire = Schema.Struct({ s: SessionKey, x: Schema.Literal("lost"), r: Schema.String, t: Schema.Number })

/**
 * The JSON text of an entry.
 *
 * @since 0.2.0
 * @category wire format
 */
export const Wire = Schema.parseJson(Schema.Union(BatchWire, ExpireWire, LostWire))

const decodeWire = Schema.decodeUnknownEither(Wire)
const encodeControl = Schema.encodeSync(SessionEvent.ControlEvent)

/**
 * The item one event becomes in a batch.
 *
 * @since 0.2.0
 * @category wire format
 */
export type Item = typeof MessageItem.Encoded | typeof ControlItem.Encoded

/**
 * @since 0.2.0
 * @category wire format
 */
export const itemOf = (event: SessionEvent.SessionEvent): Item =>
  event._tag === "Message"
    ? {
      m: event.raw ?? Decoder.encodeJson(event.event),
      t: event.receivedAt,
      ...(event.connectionId === undefined ? {} : { c: event.connectionId })
    }
    : { k: encodeControl(event) }

/**
 * The text of an entry. A batch's events are given as items (see {@link itemOf}), as a publisher keeps them; they
 * are encoded already, so this is one `JSON.stringify` (readers check every entry with {@link Wire}).
 *
 * @since 0.2.0
 * @category wire format
 */
export const encode = (
  entry:
    | Omit<Batch, "events"> & { readonly items: ReadonlyArray<Item> }
    | Expire
    | ReceiverLost
): string => {
  switch (entry._tag) {
    case "Batch":
      return JSON.stringify(
        { s: entry.session, r: entry.receiver, q: entry.seq, p: entry.previous, n: entry.counts, i: entry.items }
      )
    case "Expire":
      return JSON.stringify({ s: entry.session, x: "expire", t: entry.at })
    case "ReceiverLost":
      return JSON.stringify({ s: entry.session, x: "lost", r: entry.receiver, t: entry.at })
  }
}

/**
 * The event a message's raw text becomes again: the `Message` it was decoded to before, or, when it no longer
 * decodes (it was written by a receiver of another version), the `DecodeFailed` a receiver would have made.
 *
 * @since 0.2.0
 * @category wire format
 */
export const eventOfText = (
  session: SessionKey,
  text: string,
  receivedAt: number,
  connectionId: string | undefined
): SessionEvent.SessionEvent => {
  const decoded = Decoder.decodeEither(text)
  return Either.isRight(decoded)
    ? SessionEvent.message(session, decoded.right, receivedAt, { connectionId, raw: text })
    : new SessionEvent.DecodeFailed({
      session,
      at: receivedAt,
      error: decoded.left,
      ...(connectionId === undefined ? {} : { connectionId })
    })
}

/**
 * Reads an entry's text. A message whose raw text no longer decodes (a receiver of another version) becomes a
 * `DecodeFailed`, as it would have on a receiver.
 *
 * @since 0.2.0
 * @category wire format
 */
export const decode = (payload: string): Either.Either<LogEntry, ParseResult.ParseError> =>
  Either.map(decodeWire(payload), (wire): LogEntry => {
    if ("x" in wire) {
      return wire.x === "expire"
        ? { _tag: "Expire", session: wire.s, at: wire.t }
        : { _tag: "ReceiverLost", session: wire.s, receiver: wire.r, at: wire.t }
    }
    const session = wire.s
    return {
      _tag: "Batch",
      session,
      receiver: wire.r,
      seq: wire.q,
      previous: wire.p,
      counts: wire.n,
      events: wire.i.map((item): SessionEvent.SessionEvent =>
        "k" in item ? item.k : eventOfText(session, item.m, item.t, item.c)
      )
    }
  })

// -----------------------------------------------------------------------------
// partitions and positions
// -----------------------------------------------------------------------------

/**
 * The partition of a session: a 32-bit FNV-1a hash of its key (over its UTF-16 code units), modulo the number of
 * partitions. Every receiver and worker of a deployment must use the same number of partitions.
 *
 * @since 0.2.0
 * @category partitions
 */
export const partitionOf = (session: SessionKey, partitions: number): number => hash(session) % partitions

/**
 * The kind an event counts as: shed-able `audio` or `video`, or `other` (never shed).
 *
 * @since 0.2.0
 * @category accessors
 */
export const kindOf = (event: SessionEvent.SessionEvent): "audio" | "video" | "other" =>
  event._tag !== "Message"
    ? "other"
    : RecallEvent.isAudioEvent(event.event)
    ? "audio"
    : RecallEvent.isVideoEvent(event.event)
    ? "video"
    : "other"

/**
 * The position of the `index`th event a worker derives from the entry whose order is `order`: fixed width, so the
 * positions of a session's events increase in plain string order.
 *
 * @since 0.2.0
 * @category positions
 */
export const position = (order: string, index: number): string => `${order}.${String(index).padStart(5, "0")}`
