/**
 * What `session.json` says about a session, as a pure reducer over the session's Stream: its ids, every
 * connection that fed it, gaps, dropped media, message counts by event name, unknown event names, decode
 * failures, when it started and ended (once per run of the recorder), and errors the recorder met.
 *
 * Lists that can grow with traffic (decode failures, errors) keep their first {@link LIST_LIMIT} entries and an
 * exact count.
 *
 * Event names come from the wire, so they are data, never property names: `byEvent`, `unknownEvents` (and the
 * bot's `metadata`) are records with no prototype, where `__proto__`, `constructor` or `toString` count like any
 * other name and read back the same from `session.json` after a restart. A session lists at most
 * {@link UNKNOWN_EVENT_LIMIT} distinct unknown event names, each at most {@link NAME_LENGTH_LIMIT} characters long:
 * messages of any other unknown name are still counted, in `counts.messages` and in
 * `counts.unlistedUnknownEvents`, so `counts.messages` is always the sum of `byEvent` and `unlistedUnknownEvents`.
 *
 * @example
 * ```ts
 * import { SessionSummary } from "@callstream/sinks"
 * import { Effect, Stream } from "effect"
 *
 * const counts = <E, R>(events: Stream.Stream<SessionSummary.Input, E, R>) =>
 *   Stream.run(events, SessionSummary.sink("bot-1")).pipe(Effect.map((summary) => summary.counts.byEvent))
 * ```
 *
 * @since 0.1.0
 */
import type { RecallEvent, SessionEvent } from "@callstream/core"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Sink from "effect/Sink"
import * as MessageCounts from "./internal/messageCounts.js"
import * as NameRecord from "./internal/nameRecord.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Input = SessionEvent.SessionEvent

/**
 * How many entries the growing lists keep.
 *
 * @since 0.1.0
 * @category constants
 */
export const LIST_LIMIT = 100

/**
 * How many distinct unknown event names a session lists; messages of further names are counted in
 * `counts.unlistedUnknownEvents`.
 *
 * @since 0.2.0
 * @category constants
 */
export const UNKNOWN_EVENT_LIMIT = 100

/**
 * The longest unknown event name a session lists (in characters); longer ones are counted in
 * `counts.unlistedUnknownEvents`.
 *
 * @since 0.2.0
 * @category constants
 */
export const NAME_LENGTH_LIMIT = 200

const Counts = NameRecord.schema(Schema.Number)

const Time = Schema.NullOr(Schema.String)

/**
 * How many connections `session.json` lists at most: past it, the oldest closed ones make room (separate audio
 * opens a connection per unmute, so a long meeting can see thousands).
 *
 * @since 0.1.0
 * @category constants
 */
export const CONNECTION_LIMIT = 1000

const withRoom = <C extends { readonly closedAt: string | null }>(connections: ReadonlyArray<C>): ReadonlyArray<C> => {
  if (connections.length < CONNECTION_LIMIT) return connections
  const oldestClosed = connections.findIndex((c) => c.closedAt !== null)
  return oldestClosed === -1 ? connections : connections.filter((_, i) => i !== oldestClosed)
}

/**
 * @since 0.1.0
 * @category models
 */
export const Connection = Schema.Struct({
  connectionId: Schema.String,
  remoteAddress: Schema.NullOr(Schema.String),
  openedAt: Time,
  closedAt: Time,
  code: Schema.NullOr(Schema.Number),
  reason: Schema.NullOr(Schema.String)
})

/**
 * One run of a recorder over the session: a restart adds a run.
 *
 * @since 0.1.0
 * @category models
 */
export const Run = Schema.Struct({ startedAt: Time, endedAt: Time, endReason: Schema.NullOr(Schema.String) })

/**
 * @since 0.1.0
 * @category models
 */
export const Problem = Schema.Struct({
  at: Time,
  source: Schema.String,
  message: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Problem extends Schema.Schema.Type<typeof Problem> {}

/**
 * The content of `session.json`.
 *
 * @since 0.1.0
 * @category models
 */
export const SessionSummary = Schema.Struct({
  session: Schema.String,
  botId: Schema.NullOr(Schema.String),
  recordingId: Schema.NullOr(Schema.String),
  metadata: Schema.NullOr(NameRecord.schema(Schema.Unknown)),
  startedAt: Time,
  endedAt: Time,
  endReason: Schema.NullOr(Schema.String),
  runs: Schema.Array(Run),
  connections: Schema.Array(Connection),
  gaps: Schema.Array(Schema.Struct({ at: Time, from: Schema.Number, to: Schema.Number })),
  drops: Schema.Array(
    Schema.Struct({ at: Time, kind: Schema.String, count: Schema.Number, from: Schema.Number, to: Schema.Number })
  ),
  counts: Schema.Struct({
    messages: Schema.Number,
    /** Messages by event name (unknown names too, as far as they are listed). */
    byEvent: Counts,
    /** Messages by unknown event name, for at most {@link UNKNOWN_EVENT_LIMIT} names. */
    unknownEvents: Counts,
    /** Messages of unknown events whose name was not listed: past the limit of names, or too long. */
    unlistedUnknownEvents: Schema.optionalWith(Schema.Number, { default: () => 0 }),
    decodeFailures: Schema.Number,
    droppedMedia: Schema.Number,
    errors: Schema.Number
  }),
  decodeFailures: Schema.Array(Problem),
  errors: Schema.Array(Problem)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface SessionSummary extends Schema.Schema.Type<typeof SessionSummary> {}

/**
 * The summary of a session nothing is known about yet.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty = (session: string): SessionSummary => ({
  session,
  botId: null,
  recordingId: null,
  metadata: null,
  startedAt: null,
  endedAt: null,
  endReason: null,
  runs: [],
  connections: [],
  gaps: [],
  drops: [],
  counts: {
    messages: 0,
    byEvent: NameRecord.empty(),
    unknownEvents: NameRecord.empty(),
    unlistedUnknownEvents: 0,
    decodeFailures: 0,
    droppedMedia: 0,
    errors: 0
  },
  decodeFailures: [],
  errors: []
})

const iso = (ms: number): string => new Date(ms).toISOString()

const bump = (record: Readonly<Record<string, number>>, name: string): Record<string, number> =>
  NameRecord.set(record, name, (NameRecord.get(record, name) ?? 0) + 1)

type Counts = SessionSummary["counts"]

const limits: MessageCounts.Limits = { names: UNKNOWN_EVENT_LIMIT, nameLength: NAME_LENGTH_LIMIT }

const countMessage = (counts: Counts, event: RecallEvent.RecallEvent): Counts => {
  const messages = counts.messages + 1
  if (event.event !== "unknown") return { ...counts, messages, byEvent: bump(counts.byEvent, event.event) }
  const name = event.name
  const listed = MessageCounts.isListed(counts.unknownEvents, Object.keys(counts.unknownEvents).length, name, limits)
  return listed
    ? { ...counts, messages, byEvent: bump(counts.byEvent, name), unknownEvents: bump(counts.unknownEvents, name) }
    : { ...counts, messages, unlistedUnknownEvents: counts.unlistedUnknownEvents + 1 }
}

const capped = <A>(list: ReadonlyArray<A>, item: A): ReadonlyArray<A> =>
  list.length >= LIST_LIMIT ? list : [...list, item]

const lastRun = (summary: SessionSummary, f: (run: typeof Run.Type) => typeof Run.Type): SessionSummary => {
  const run = summary.runs[summary.runs.length - 1]
  return run === undefined ? summary : { ...summary, runs: [...summary.runs.slice(0, -1), f(run)] }
}

/**
 * The reducer.
 *
 * @since 0.1.0
 * @category reducers
 */
export const reduce = (summary: SessionSummary, item: Input): SessionSummary => {
  switch (item._tag) {
    case "Message":
      return { ...summary, counts: countMessage(summary.counts, item.event) }
    case "SessionStarted":
      return {
        ...summary,
        botId: item.botId ?? summary.botId,
        recordingId: item.recordingId ?? summary.recordingId,
        metadata: item.metadata === null ? summary.metadata : Object.assign(NameRecord.empty(), item.metadata),
        startedAt: summary.startedAt ?? iso(item.at),
        endedAt: null,
        endReason: null,
        runs: [...summary.runs, { startedAt: iso(item.at), endedAt: null, endReason: null }]
      }
    case "ConnectionOpened":
      return {
        ...summary,
        connections: [...withRoom(summary.connections), {
          connectionId: item.connectionId,
          remoteAddress: item.remoteAddress ?? null,
          openedAt: iso(item.at),
          closedAt: null,
          code: null,
          reason: null
        }]
      }
    case "ConnectionClosed": {
      let index = summary.connections.length - 1
      while (index >= 0) {
        const c = summary.connections[index]!
        if (c.connectionId === item.connectionId && c.closedAt === null) break
        index--
      }
      const closed = { closedAt: iso(item.at), code: item.code, reason: item.reason }
      const connections = index === -1
        ? [...summary.connections, {
          connectionId: item.connectionId,
          remoteAddress: null,
          openedAt: null,
          ...closed
        }]
        : summary.connections.map((c, i) => i === index ? { ...c, ...closed } : c)
      return { ...summary, connections }
    }
    case "Gap":
      return { ...summary, gaps: [...summary.gaps, { at: iso(item.at), from: item.from, to: item.to }] }
    case "Dropped":
      return {
        ...summary,
        drops: capped(summary.drops, {
          at: iso(item.at),
          kind: item.kind,
          count: item.count,
          from: item.from,
          to: item.to
        }),
        counts: { ...summary.counts, droppedMedia: summary.counts.droppedMedia + item.count }
      }
    case "DecodeFailed":
      return {
        ...summary,
        decodeFailures: capped(summary.decodeFailures, {
          at: iso(item.at),
          source: item.connectionId ?? "unknown connection",
          message: item.error.message
        }),
        counts: { ...summary.counts, decodeFailures: summary.counts.decodeFailures + 1 }
      }
    case "SessionEnded":
      // a handover is not the meeting's end: the session goes on elsewhere, and so does its summary
      if (item.reason === "handover") return summary
      return lastRun(
        { ...summary, endedAt: iso(item.at), endReason: item.reason },
        (run) => ({ ...run, endedAt: iso(item.at), endReason: item.reason })
      )
  }
}

/**
 * The reducer applied to many items at once: the same summary as folding {@link reduce} over them, with the message
 * counts copied once for the whole batch instead of once per message.
 *
 * @since 0.2.0
 * @category reducers
 */
export const reduceAll = (summary: SessionSummary, items: Iterable<Input>): SessionSummary => {
  const counter = new MessageCounts.MessageCounter(limits)
  let current = summary
  // messages change only their counts, which no other item reads or changes: they are added once, at the end
  for (const item of items) {
    if (item._tag === "Message") counter.add(item.event)
    else current = reduce(current, item)
  }
  return withCounted(current, counter)
}

// adds what a counter collected to a summary's counts (the same summary when it collected nothing)
const withCounted = (summary: SessionSummary, counter: MessageCounts.MessageCounter): SessionSummary =>
  counter.isEmpty ? summary : { ...summary, counts: counter.addTo(summary.counts) }

/**
 * Records a problem the recorder met (a bad frame, a failed write), with where it came from.
 *
 * @since 0.1.0
 * @category reducers
 */
export const addError = (summary: SessionSummary, at: number, source: string, message: string): SessionSummary => ({
  ...summary,
  errors: capped(summary.errors, { at: iso(at), source, message }),
  counts: { ...summary.counts, errors: summary.counts.errors + 1 }
})

/**
 * A Sink that folds one session's Stream into its summary.
 *
 * @since 0.1.0
 * @category sinks
 */
export const sink = (session: string): Sink.Sink<SessionSummary, Input> => Sink.foldLeft(empty(session), reduce)

const decode = Schema.decodeUnknownEither(SessionSummary)

/**
 * Reads a saved `session.json` back, e.g. to continue it after a restart.
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromJson = (json: unknown): Either.Either<SessionSummary, unknown> => decode(json)
