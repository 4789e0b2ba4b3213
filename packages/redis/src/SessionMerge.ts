/**
 * Turns a session's entries, from however many receivers, into the events one process would have given: a pure
 * reducer that a worker runs over each partition in the log's order (and a test runs over plain arrays).
 *
 * Every receiver sees a meeting that reconnects to it as a session of its own. The merge makes them one:
 * - one `SessionStarted` (the first one written, or one made from the first message);
 * - the receivers' connection events pass through, and the merge keeps which connections are open, on which
 *   receiver; a `Gap` runs from the latest meeting time seen before the last open connection closed to where data
 *   resumes after one opened again, by the same rule as the single-process router (receivers' own gaps are
 *   replaced by these);
 * - a receiver noted lost (`ReceiverLost`) has its connections closed (1006); if data then comes on one after all
 *   (the receiver was only cut off), the connection opens again, as a reconnect would;
 * - `SessionEnded("timeout")` once no receiver has had a connection for `sessionTimeout`: when a receiver's own
 *   session timed out that long after the last connection anywhere closed, or when a worker's `Expire` note says
 *   so (a receiver that shut down or died never times its session out; {@link awaitsReceivers} tells a worker
 *   whether any receiver still may), at the time the timeout was reached. Receivers' own `SessionEnded`s are
 *   otherwise absorbed, and what a receiver writes about a session after the session ended (its own end, a late
 *   close) is dropped, unless it starts the session again (a message, as in one process);
 * - a batch seen before (a write retried after a lost reply) is skipped; batches missing from a receiver's chain
 *   (trimmed by the log's safety cap before anyone read them) become `Dropped` records for their audio and video,
 *   and are counted in {@link Step} `lost`.
 *
 * The state is small and a Schema, so a worker saves it with each acknowledgement and its successor continues
 * from exactly there.
 *
 * @example
 * ```ts
 * import { SessionMerge } from "@callstream/redis"
 *
 * const replay = (entries: ReadonlyArray<SessionMerge.Input>) => {
 *   let state: SessionMerge.State | undefined
 *   return entries.flatMap((entry) => {
 *     const step = SessionMerge.step(state, entry, { sessionTimeout: 95_000 })
 *     state = step.state
 *     return step.events
 *   })
 * }
 * ```
 *
 * @since 0.2.0
 */
import * as RecallEvent from "@callstream/core/RecallEvent"
import * as SessionEvent from "@callstream/core/SessionEvent"
import { SessionKey } from "@callstream/core/SessionKey"
import * as Schema from "effect/Schema"
import * as LogEntry from "./LogEntry.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

const Counts = Schema.Tuple(Schema.Number, Schema.Number, Schema.Number)

const Receiver = Schema.Struct({ seq: Schema.Number, counts: Counts, ended: Schema.optional(Schema.Boolean) })

/**
 * What the merge knows about one session: whether it started, its open connections (connection id -> receiver),
 * the last batch seen from each receiver (sequence number, running counts, and whether that receiver ended its
 * side of the session or was lost), the latest meeting time seen, when the last connection closed (epoch ms, while
 * none is open) and the gap that may be open.
 *
 * @since 0.2.0
 * @category models
 */
export const State = Schema.Struct({
  session: SessionKey,
  started: Schema.Boolean,
  connections: Schema.Record({ key: Schema.String, value: Schema.String }),
  receivers: Schema.Record({ key: Schema.String, value: Receiver }),
  lastTime: Schema.optional(Schema.Number),
  disconnectedAt: Schema.optional(Schema.Number),
  gapFrom: Schema.optional(Schema.Number),
  awaitingGapEnd: Schema.Boolean
})

/**
 * @since 0.2.0
 * @category models
 */
export interface State extends Schema.Schema.Type<typeof State> {}

/**
 * What the merge reads: one entry of the log.
 *
 * @since 0.2.0
 * @category models
 */
export type Input = LogEntry.LogEntry

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** How long a session lasts with no connection on any receiver, in milliseconds. */
  readonly sessionTimeout: number
}

/**
 * What one entry gave: the state after it (`undefined` once the session ended), the events to emit (no positions
 * yet), whether the entry was a batch seen before, and how many events of each kind went missing before it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Step {
  readonly state: State | undefined
  readonly events: ReadonlyArray<SessionEvent.SessionEvent>
  readonly duplicate: boolean
  readonly lost: { readonly audio: number; readonly video: number; readonly other: number }
}

// -----------------------------------------------------------------------------
// reducer
// -----------------------------------------------------------------------------

/**
 * The state of a session nothing is known about yet.
 *
 * @since 0.2.0
 * @category constructors
 */
export const empty = (session: SessionKey): State => ({
  session,
  started: false,
  connections: {},
  receivers: {},
  awaitingGapEnd: false
})

const NOTHING_LOST = { audio: 0, video: 0, other: 0 } as const

type Mutable =
  & {
    -readonly [K in keyof State]: State[K]
  }
  & { connections: Record<string, string> }

/** The one place a session's state changes, per event; `out` collects what to emit. */
class Merge {
  state: Mutable | undefined
  readonly out: Array<SessionEvent.SessionEvent> = []

  constructor(readonly session: SessionKey, state: State | undefined, readonly options: Options) {
    this.state = state === undefined ? undefined : { ...state, connections: { ...state.connections } }
  }

  live(): Mutable {
    if (this.state === undefined) this.state = { ...empty(this.session), connections: {} }
    return this.state
  }

  emit(event: SessionEvent.SessionEvent): void {
    if (this.state?.started === true) this.out.push(event)
  }

  closeAll(state: Mutable, at: number): void {
    if (Object.keys(state.connections).length > 0 || state.disconnectedAt !== undefined) return
    state.disconnectedAt = at
    state.gapFrom = state.lastTime
    state.awaitingGapEnd = false
  }

  timedOut(at: number): boolean {
    const state = this.state
    return state !== undefined && state.started && Object.keys(state.connections).length === 0 &&
      state.disconnectedAt !== undefined && at - state.disconnectedAt >= this.options.sessionTimeout
  }

  /** The session ends because no connection came back within the timeout: at the time the timeout was reached. */
  expire(): void {
    const state = this.state!
    this.end(state.disconnectedAt! + this.options.sessionTimeout)
  }

  end(at: number): void {
    this.emit(new SessionEvent.SessionEnded({ session: this.session, at, reason: "timeout" }))
    this.state = undefined
  }

  event(receiver: string, event: SessionEvent.SessionEvent): void {
    const state = this.live()
    switch (event._tag) {
      case "SessionStarted": {
        if (!state.started) {
          state.started = true
          this.out.push(event)
        }
        return
      }
      case "Message": {
        if (!state.started) {
          state.started = true
          this.out.push(SessionEvent.startedBy(this.session, event.event, event.receivedAt))
        }
        const connection = event.connectionId
        if (
          connection !== undefined && state.connections[connection] === undefined && state.disconnectedAt !== undefined
        ) {
          // data on a connection the merge had closed (its receiver was thought lost, and was only cut off)
          this.event(
            receiver,
            new SessionEvent.ConnectionOpened({ session: this.session, at: event.receivedAt, connectionId: connection })
          )
        }
        const latest = RecallEvent.latestTimeOf(event.event)
        if (latest !== undefined) {
          if (state.awaitingGapEnd && (state.gapFrom === undefined || latest > state.gapFrom)) {
            state.awaitingGapEnd = false
            if (state.gapFrom !== undefined) {
              const resumed = RecallEvent.isAudioEvent(event.event) ? event.event.data.data.timestamp.relative : latest
              this.out.push(
                new SessionEvent.Gap({
                  session: this.session,
                  at: event.receivedAt,
                  from: state.gapFrom,
                  to: Math.max(state.gapFrom, resumed)
                })
              )
            }
          }
          if (state.lastTime === undefined || latest > state.lastTime) state.lastTime = latest
        }
        this.out.push(event)
        return
      }
      case "ConnectionOpened": {
        state.connections[event.connectionId] = receiver
        if (state.disconnectedAt !== undefined) {
          state.disconnectedAt = undefined
          state.awaitingGapEnd = true
        }
        return this.emit(event)
      }
      case "ConnectionClosed": {
        delete state.connections[event.connectionId]
        this.closeAll(state, event.at)
        return this.emit(event)
      }
      case "Gap":
        return
      case "DecodeFailed":
      case "Dropped":
        return this.emit(event)
      case "SessionEnded": {
        for (const [connection, holder] of Object.entries(state.connections)) {
          if (holder === receiver) delete state.connections[connection]
        }
        this.closeAll(state, event.at)
        if (event.reason === "timeout" && this.timedOut(event.at)) this.end(event.at)
        return
      }
    }
  }
}

const kinds = (events: ReadonlyArray<SessionEvent.SessionEvent>): [number, number, number] => {
  const counts: [number, number, number] = [0, 0, 0]
  for (const event of events) {
    const kind = LogEntry.kindOf(event)
    counts[kind === "audio" ? 0 : kind === "video" ? 1 : 2]++
  }
  return counts
}

/**
 * Applies one entry to a session's state (`undefined`: nothing known, or the session ended).
 *
 * @since 0.2.0
 * @category reducer
 */
export const step = (state: State | undefined, entry: Input, options: Options): Step => {
  const merge = new Merge(entry.session, state, options)
  switch (entry._tag) {
    case "Expire": {
      if (merge.timedOut(entry.at)) merge.expire()
      return { state: merge.state, events: merge.out, duplicate: false, lost: NOTHING_LOST }
    }
    case "ReceiverLost": {
      const live = merge.state
      if (live !== undefined) {
        const known = live.receivers[entry.receiver]
        // a receiver that is gone never ends its side of the session itself
        if (known !== undefined) live.receivers = { ...live.receivers, [entry.receiver]: { ...known, ended: true } }
        for (const [connection, holder] of Object.entries(live.connections)) {
          if (holder !== entry.receiver) continue
          merge.event(
            entry.receiver,
            new SessionEvent.ConnectionClosed({
              session: entry.session,
              at: entry.at,
              connectionId: connection,
              code: 1006,
              reason: "receiver lost"
            })
          )
        }
      }
      return { state: merge.state, events: merge.out, duplicate: false, lost: NOTHING_LOST }
    }
    case "Batch":
      break
  }
  const seen = state?.receivers[entry.receiver]
  if (seen !== undefined && entry.seq <= seen.seq) {
    return { state, events: [], duplicate: true, lost: NOTHING_LOST }
  }
  // what the receiver had written for this session before this batch, and what of it arrived
  const inBatch = kinds(entry.events)
  const before = entry.counts.map((n, i) => n - inBatch[i]!)
  const arrived = entry.previous === 0 || seen === undefined
    ? [0, 0, 0]
    : seen.seq === entry.previous || before.some((n, i) => n < seen.counts[i]!)
    ? before // the chain is whole (or restarted: nothing to compare with)
    : seen.counts
  const lost = entry.previous === 0
    ? NOTHING_LOST
    : { audio: before[0]! - arrived[0]!, video: before[1]! - arrived[1]!, other: before[2]! - arrived[2]! }

  const live = merge.live()
  // whether this receiver's own session is over, as its last start or end in the batch says
  let ended = seen?.ended === true
  for (const event of entry.events) {
    if (event._tag === "SessionStarted") ended = false
    else if (event._tag === "SessionEnded") ended = true
  }
  live.receivers = {
    ...live.receivers,
    [entry.receiver]: ended ? { seq: entry.seq, counts: entry.counts, ended } : { seq: entry.seq, counts: entry.counts }
  }
  let reported = lost.audio === 0 && lost.video === 0
  for (const event of entry.events) {
    if (!reported && event._tag !== "SessionStarted") {
      // after the session's start, before anything newer: what went missing between the last data and this batch
      reported = true
      if (event._tag === "Message" && !live.started) {
        live.started = true
        merge.out.push(SessionEvent.startedBy(entry.session, event.event, event.receivedAt))
      }
      const from = live.lastTime ?? 0
      const next = entry.events.find((e): e is SessionEvent.Message => e._tag === "Message")
      const to = next === undefined ? from : Math.max(from, RecallEvent.relativeTimeOf(next.event) ?? from)
      const at = event._tag === "Message" ? event.receivedAt : event.at
      for (const [kind, count] of [["audio", lost.audio], ["video", lost.video]] as const) {
        if (count > 0) merge.emit(new SessionEvent.Dropped({ session: entry.session, at, kind, count, from, to }))
      }
    }
    merge.event(entry.receiver, event)
  }
  if (merge.state !== undefined && !merge.state.started) {
    // what a receiver says of a session that already ended (its own end, a close) starts nothing and is not kept
    return { state: undefined, events: [], duplicate: false, lost }
  }
  return { state: merge.state, events: merge.out, duplicate: false, lost }
}

/**
 * Whether some receiver that wrote to the session may still end it itself (by its own timeout): `false` once
 * every such receiver ended its side of the session (a receiver that shut down) or was noted lost, so only a
 * worker's `Expire` note can end the session, and need not wait longer than `sessionTimeout` to write it.
 *
 * @since 0.2.0
 * @category accessors
 */
export const awaitsReceivers = (state: State): boolean =>
  Object.values(state.receivers).some((receiver) => receiver.ended !== true)
