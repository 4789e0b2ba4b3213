/**
 * What a session's Stream carries: every Recall message (as a {@link Message}) and the control events a source
 * adds around them (a session started, a connection opened or closed, a gap, a decode failure, media dropped,
 * the session ended). Each value names its session, so one flat Stream can carry many meetings.
 *
 * Control events are Schema classes: they go into `session.json` and across wires as they are.
 *
 * @example
 * ```ts
 * import type { SessionEvent } from "@callstream/core"
 *
 * const describe = (item: SessionEvent.SessionEvent): string => {
 *   switch (item._tag) {
 *     case "Message":
 *       return item.event.event
 *     case "Gap":
 *       return `no connection from ${item.from}s to ${item.to}s`
 *     default:
 *       return item._tag
 *   }
 * }
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { DecodeError } from "./Decoder.js"
import * as RecallEvent from "./RecallEvent.js"
import { idsOf, SessionKey } from "./SessionKey.js"

/**
 * Where an event sits in its source's durable log, for sources that have one (a scale-out transport): positions of
 * one session's events increase in plain string order (a source pads its numbers to a fixed width). A sink that
 * stores the position of the last event it applied, together with its own output, can skip what a source delivers
 * again after a failover, so its output stays exactly once. In-process sources set none.
 *
 * @since 0.2.0
 * @category models
 */
export const Position = Schema.String

/**
 * One Recall message as it arrived: the decoded event, when it arrived (epoch ms), on which connection, and the
 * raw JSON text when the source kept it (a tape recorder writes it unchanged, unknown fields and all).
 *
 * @since 0.1.0
 * @category models
 */
export interface Message {
  readonly _tag: "Message"
  readonly session: SessionKey
  readonly event: RecallEvent.RecallEvent
  readonly receivedAt: number
  readonly connectionId?: string | undefined
  readonly raw?: string | undefined
  /** See {@link Position}. */
  readonly position?: string | undefined
}

/**
 * Messages are built by a constructor rather than as object literals: V8 may learn to allocate everything one
 * literal in the code makes straight in the old generation, and a dead message there would keep its frame's text
 * and parsed form alive through every young-generation collection until the next full one.
 */
class MessageImpl implements Message {
  readonly _tag = "Message" as const
  constructor(
    readonly session: SessionKey,
    readonly event: RecallEvent.RecallEvent,
    readonly receivedAt: number,
    readonly connectionId: string | undefined,
    readonly raw: string | undefined,
    readonly position: string | undefined
  ) {}
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const message = (
  session: SessionKey,
  event: RecallEvent.RecallEvent,
  receivedAt: number,
  options?: {
    readonly connectionId?: string | undefined
    readonly raw?: string | undefined
    readonly position?: string | undefined
  }
): Message => new MessageImpl(session, event, receivedAt, options?.connectionId, options?.raw, options?.position)

/**
 * The first thing a session's Stream carries.
 *
 * @since 0.1.0
 * @category control
 */
export class SessionStarted extends Schema.TaggedClass<SessionStarted>()("SessionStarted", {
  session: SessionKey,
  at: Schema.Number,
  position: Schema.optional(Position),
  botId: Schema.NullOr(Schema.String),
  recordingId: Schema.NullOr(Schema.String),
  metadata: RecallEvent.Metadata
}) {}

const isMetadata = Schema.is(RecallEvent.Metadata)

const metadataOf = (ref: unknown): typeof RecallEvent.Metadata.Type | undefined => {
  if (typeof ref !== "object" || ref === null) return undefined
  const metadata = (ref as { readonly metadata?: unknown }).metadata
  return metadata !== undefined && isMetadata(metadata) ? metadata : undefined
}

/**
 * The `SessionStarted` for a session whose first message is `event`: ids and metadata read from its envelope (the
 * bot's metadata, else the recording's). Total: the envelope of an unknown event is unchecked wire data, so an id
 * that is not a non-empty string reads as `null` and metadata that is not an object (or null) is passed over.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startedBy = (session: SessionKey, event: RecallEvent.RecallEvent, at: number): SessionStarted => {
  const body: unknown = event.data
  const { bot, recording } = typeof body === "object" && body !== null
    ? body as { readonly bot?: unknown; readonly recording?: unknown }
    : {}
  const { botId, recordingId } = idsOf(body)
  return new SessionStarted({
    session,
    at,
    botId,
    recordingId,
    metadata: metadataOf(bot) ?? metadataOf(recording) ?? null
  })
}

/**
 * A connection started to feed this session (a session may have many at once).
 *
 * @since 0.1.0
 * @category control
 */
export class ConnectionOpened extends Schema.TaggedClass<ConnectionOpened>()("ConnectionOpened", {
  session: SessionKey,
  at: Schema.Number,
  position: Schema.optional(Position),
  connectionId: Schema.String,
  remoteAddress: Schema.optional(Schema.String)
}) {}

/**
 * A connection that fed this session closed.
 *
 * @since 0.1.0
 * @category control
 */
export class ConnectionClosed extends Schema.TaggedClass<ConnectionClosed>()("ConnectionClosed", {
  session: SessionKey,
  at: Schema.Number,
  position: Schema.optional(Position),
  connectionId: Schema.String,
  code: Schema.Number,
  reason: Schema.String
}) {}

/**
 * A span of meeting time (seconds, `timestamp.relative`) during which no connection fed the session: what Recall
 * produced then is lost, because it replays nothing after a reconnect.
 *
 * @since 0.1.0
 * @category control
 */
export class Gap extends Schema.TaggedClass<Gap>()("Gap", {
  session: SessionKey,
  at: Schema.Number,
  position: Schema.optional(Position),
  from: Schema.Number,
  to: Schema.Number
}) {}

/**
 * A frame that named this session could not be decoded. The connection stays open.
 *
 * @since 0.1.0
 * @category control
 */
export class DecodeFailed extends Schema.TaggedClass<DecodeFailed>()("DecodeFailed", {
  session: SessionKey,
  at: Schema.Number,
  position: Schema.optional(Position),
  connectionId: Schema.optional(Schema.String),
  error: DecodeError
}) {}

/**
 * The kind of media that may be shed under overload.
 *
 * @since 0.1.0
 * @category control
 */
export const MediaKind = Schema.Literal("audio", "video")

/**
 * Media messages were shed because the consumer fell behind: how many, and the meeting-time span they covered.
 *
 * @since 0.1.0
 * @category control
 */
export class Dropped extends Schema.TaggedClass<Dropped>()("Dropped", {
  session: SessionKey,
  at: Schema.Number,
  position: Schema.optional(Position),
  kind: MediaKind,
  count: Schema.Number,
  from: Schema.Number,
  to: Schema.Number
}) {}

/**
 * Why a session ended: no connection came back within the session timeout, the source shut down, the source
 * had nothing more (a tape or an iterable ran out), or (`handover`) the source handed the session to another
 * consumer, which goes on with it: a scale-out worker giving one of its partitions to a worker that joined. A
 * handover is not the meeting's end: a consumer that keeps state for the session saves it where its successor
 * finds it, and does not close what the meeting left open (`SessionRecorder` finishes the session's files as it
 * does when its source ends, and records no end in `session.json`).
 *
 * @since 0.1.0
 * @category control
 */
export const EndReason = Schema.Literal("timeout", "shutdown", "completed", "handover")

/**
 * The last thing a session's Stream carries.
 *
 * @since 0.1.0
 * @category control
 */
export class SessionEnded extends Schema.TaggedClass<SessionEnded>()("SessionEnded", {
  session: SessionKey,
  at: Schema.Number,
  position: Schema.optional(Position),
  reason: EndReason
}) {}

/**
 * Every control event.
 *
 * @since 0.1.0
 * @category control
 */
export const ControlEvent = Schema.Union(
  SessionStarted,
  ConnectionOpened,
  ConnectionClosed,
  Gap,
  DecodeFailed,
  Dropped,
  SessionEnded
)

/**
 * @since 0.1.0
 * @category control
 */
export type ControlEvent = typeof ControlEvent.Type

/**
 * What a session's Stream carries.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionEvent = Message | ControlEvent

/**
 * @since 0.1.0
 * @category guards
 */
export const isMessage = (item: SessionEvent): item is Message => item._tag === "Message"

/**
 * @since 0.1.0
 * @category guards
 */
export const isControl = (item: SessionEvent): item is ControlEvent => item._tag !== "Message"
