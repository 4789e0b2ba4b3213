import * as Decoder from "@callstream/core/Decoder"
import * as RecallEvent from "@callstream/core/RecallEvent"
import * as SessionEvent from "@callstream/core/SessionEvent"
import * as SessionKey from "@callstream/core/SessionKey"
import * as Option from "effect/Option"
import * as ServerMetrics from "../ServerMetrics.js"
import * as Counters from "./counters.js"
import { CONTROL_WEIGHT, Flow, type FlowOptions } from "./flow.js"
import type { Log } from "./log.js"
import { type Connection, SessionState } from "./state.js"
import type { Tracing } from "./tracing.js"

/** What the router needs from its host: time, timers, logs and where new sessions go. */
export interface Hooks {
  readonly now: () => number
  /** Runs `f` after `ms`; returns a canceller. */
  readonly after: (ms: number, f: () => void) => () => void
  readonly log: Log
  readonly published: (session: SessionState) => void
  /** Spans for sessions, when tracing is on. */
  readonly tracing?: Tracing | undefined
}

export interface RouterOptions extends FlowOptions {
  readonly sessionTimeoutMs: number
  readonly maxChunk: number
  /** Sessions open at once; a frame that would start one more is refused. */
  readonly maxSessions: number
  /** Sessions one connection may feed; a frame that would join one more is refused. */
  readonly maxSessionsPerConnection: number
}

/**
 * What became of frames, one count per frame: a message buffered for its session (`messages`), media shed under
 * overload (`shed`), a `DecodeFailed` buffered for the connection's session (`decodeFailed`), a frame with no
 * session to go to (`unroutable`), or one refused by a session limit (`refused`). `defects` counts frames whose
 * handling failed unexpectedly (each also has one of the outcomes above).
 */
export interface Outcomes {
  frames: number
  messages: number
  shed: number
  decodeFailed: number
  unroutable: number
  refused: number
  defects: number
}

type Outcome = Exclude<keyof Outcomes, "frames" | "defects">

/** How many decode failures of one connection are logged; the rest are only counted. */
const LOGGED_FAILURES = 5

/**
 * Routes decoded frames to sessions (by `bot.id`, else `recording.id`, else the connection's last session), keeps
 * each session's connections, gaps and end, and hands every event to the {@link Flow} policy. Everything here runs
 * synchronously inside socket callbacks and never throws: `frame` is the last line of defence for one frame.
 */
export class Router {
  readonly sessions = new Map<SessionKey.SessionKey, SessionState>()
  readonly connections = new Set<Connection>()
  readonly flow: Flow
  readonly outcomes: Outcomes = {
    frames: 0,
    messages: 0,
    shed: 0,
    decodeFailed: 0,
    unroutable: 0,
    refused: 0,
    defects: 0
  }
  private settled = 0

  constructor(readonly options: RouterOptions, readonly hooks: Hooks) {
    this.flow = new Flow(options, hooks.now, hooks.log)
  }

  // ---------------------------------------------------------------------------
  // connections
  // ---------------------------------------------------------------------------

  opened(connection: Connection): void {
    this.connections.add(connection)
    ServerMetrics.connectionsTotal.unsafeUpdate(1, Counters.NO_TAGS)
    ServerMetrics.connectionsCurrent.unsafeModify(1, Counters.NO_TAGS)
  }

  closed(connection: Connection, code: number, reason: string, shuttingDown: boolean): void {
    if (connection.closed) return
    connection.closed = true
    this.connections.delete(connection)
    this.flow.closed(connection)
    ServerMetrics.connectionsCurrent.unsafeModify(-1, Counters.NO_TAGS)
    Counters.closed(code)
    const at = this.hooks.now()
    for (const session of connection.sessions) {
      if (session.ended) continue
      this.flow.push(
        session,
        new SessionEvent.ConnectionClosed({ session: session.key, at, connectionId: connection.id, code, reason }),
        CONTROL_WEIGHT
      )
      session.connections.delete(connection)
      if (session.connections.size === 0) {
        session.disconnected = true
        session.awaitingGapEnd = false
        session.gapFrom = session.lastTime
        if (!shuttingDown) {
          session.cancelTimer = this.hooks.after(this.options.sessionTimeoutMs, () => {
            session.cancelTimer = undefined
            if (session.connections.size === 0) this.end(session, "timeout")
          })
        }
      }
    }
    connection.sessions.clear()
    connection.lastSession = undefined
  }

  // ---------------------------------------------------------------------------
  // frames: the hot path
  // ---------------------------------------------------------------------------

  /** Handles one frame. Never throws: whatever goes wrong becomes that frame's outcome, and the rest goes on. */
  frame(connection: Connection, data: Buffer): void {
    this.outcomes.frames++
    const settled = this.settled
    try {
      this.route(connection, data)
    } catch (cause) {
      this.defect(connection, data, cause, settled)
    }
  }

  private route(connection: Connection, data: Buffer): void {
    const at = this.hooks.now()
    connection.alive = true
    const raw = data.toString("utf8")
    const result = Decoder.decodeEither(raw)
    if (result._tag === "Left") return this.failed(connection, result.left, at)
    const event = result.right
    const key = Option.getOrUndefined(SessionKey.fromEvent(event))
    if (key !== undefined && key.length > SessionKey.MAX_LENGTH) {
      return this.failed(connection, keyTooLong(event, data), at)
    }
    // unknown names come from the wire: they share one label, so the metric's cardinality stays bounded
    const name = event.event
    Counters.messagesBy(name).unsafeUpdate(1, Counters.NO_TAGS)
    Counters.bytesBy(name).unsafeUpdate(data.byteLength, Counters.NO_TAGS)
    let session: SessionState | undefined
    if (key !== undefined) {
      session = this.sessions.get(key)
    } else {
      session = connection.lastSession
      if (session === undefined || session.ended) {
        ServerMetrics.unrouted.unsafeUpdate(1, Counters.NO_TAGS)
        return this.settle("unroutable")
      }
    }
    if (session === undefined || !connection.sessions.has(session)) {
      if (connection.sessions.size >= this.options.maxSessionsPerConnection) {
        return this.refuse(connection, "sessions_per_connection")
      }
      if (session === undefined) {
        // only a frame that names its session gets here without one
        if (this.sessions.size >= this.options.maxSessions) return this.refuse(connection, "sessions")
        session = this.start(key!, event, at)
      }
      this.attach(connection, session)
    }
    connection.lastSession = session
    this.message(
      session,
      connection,
      SessionEvent.message(session.key, event, at, { connectionId: connection.id, raw }),
      event,
      data.byteLength
    )
  }

  private settle(outcome: Outcome): void {
    this.outcomes[outcome]++
    this.settled++
  }

  /** The last line of defence: a frame whose handling threw still gets exactly one outcome, and is logged. */
  private defect(connection: Connection, data: Buffer, cause: unknown, settled: number): void {
    this.outcomes.defects++
    Counters.internalError("message")
    const error = Decoder.internalError(cause, data.byteLength)
    this.hooks.log("Error", "Unexpected failure while handling a frame", {
      connection: connection.id,
      error: error.issue
    })
    if (this.settled !== settled) return
    try {
      this.failed(connection, error, this.hooks.now())
    } catch {
      // not even a DecodeFailed could be buffered: the frame is counted as going nowhere
      ServerMetrics.unrouted.unsafeUpdate(1, Counters.NO_TAGS)
      this.settle("unroutable")
    }
  }

  private failed(connection: Connection, error: Decoder.DecodeError, at: number): void {
    Counters.decodeFailed(error.reason)
    const session = connection.lastSession
    if (session === undefined || session.ended) {
      ServerMetrics.unrouted.unsafeUpdate(1, Counters.NO_TAGS)
      this.settle("unroutable")
    } else {
      this.flow.push(
        session,
        new SessionEvent.DecodeFailed({ session: session.key, at, connectionId: connection.id, error }),
        CONTROL_WEIGHT
      )
      this.settle("decodeFailed")
      // never dropped, so held back like participant and transcript events: a flood of bad frames pauses its socket
      this.flow.hold(session, connection)
    }
    // the first few failures of a connection are logged; a flood of bad frames is only counted
    if (++connection.failures <= LOGGED_FAILURES) {
      this.hooks.log("Warning", "Frame could not be decoded", {
        session: session?.key,
        connection: connection.id,
        reason: error.reason,
        event: error.event,
        path: error.path,
        issue: error.issue
      })
    }
  }

  /** A frame that needs a session over a limit: refused, counted, logged once per connection. */
  private refuse(connection: Connection, limit: "sessions" | "sessions_per_connection"): void {
    this.settle("refused")
    ServerMetrics.refused.unsafeUpdate(1, Counters.NO_TAGS)
    Counters.limitReached(limit)
    if (connection.refusals++ === 0) {
      this.hooks.log("Warning", "Session limit reached: frame refused", {
        connection: connection.id,
        limit,
        max: limit === "sessions" ? this.options.maxSessions : this.options.maxSessionsPerConnection
      })
    }
    // a connection that feeds nothing is closed, so Recall retries it later (1013: try again later)
    if (connection.sessions.size === 0 && !connection.closing) {
      connection.closing = true
      connection.socket.close(1013, "session limit reached")
    }
  }

  private message(
    session: SessionState,
    connection: Connection,
    item: SessionEvent.Message,
    event: RecallEvent.RecallEvent,
    bytes: number
  ): void {
    // a gap runs from the latest meeting time seen before the drop to the first later time seen after it; an event
    // about older times (a late transcript final) does not end it
    const latest = RecallEvent.latestTimeOf(event)
    if (latest !== undefined) {
      if (session.awaitingGapEnd && (session.gapFrom === undefined || latest > session.gapFrom)) {
        session.awaitingGapEnd = false
        if (session.gapFrom !== undefined) {
          ServerMetrics.gaps.unsafeUpdate(1, Counters.NO_TAGS)
          this.hooks.tracing?.sessionGap(session)
          // data resumed where this event's data begins: an audio chunk's first sample, else its latest time
          const resumed = RecallEvent.isAudioEvent(event) ? event.data.data.timestamp.relative : latest
          this.flow.push(
            session,
            new SessionEvent.Gap({
              session: session.key,
              at: item.receivedAt,
              from: session.gapFrom,
              to: Math.max(session.gapFrom, resumed)
            }),
            CONTROL_WEIGHT
          )
        }
      }
      if (session.lastTime === undefined || latest > session.lastTime) session.lastTime = latest
    }
    const kind = RecallEvent.isAudioEvent(event) ? "audio" : RecallEvent.isVideoEvent(event) ? "video" : undefined
    if (kind !== undefined && this.flow.sheds(session)) {
      this.flow.shed(session, kind, RecallEvent.relativeTimeOf(event) ?? session.lastTime ?? 0)
      return this.settle("shed")
    }
    this.flow.flushDrops(session)
    this.flow.push(session, item, bytes)
    this.settle("messages")
    if (kind === undefined) this.flow.hold(session, connection)
  }

  // ---------------------------------------------------------------------------
  // sessions
  // ---------------------------------------------------------------------------

  private start(key: SessionKey.SessionKey, event: RecallEvent.RecallEvent, at: number): SessionState {
    const started = SessionEvent.startedBy(key, event, at)
    const { botId, metadata, recordingId } = started
    const session = new SessionState(key, botId, recordingId, metadata, at, this.options.maxChunk, this.flow.taken)
    this.sessions.set(key, session)
    ServerMetrics.sessionsTotal.unsafeUpdate(1, Counters.NO_TAGS)
    ServerMetrics.sessionsCurrent.unsafeModify(1, Counters.NO_TAGS)
    this.flow.push(session, started, CONTROL_WEIGHT)
    this.hooks.log("Debug", "Session started", {
      session: key,
      bot: botId ?? undefined,
      recording: recordingId ?? undefined
    })
    this.hooks.published(session)
    return session
  }

  private attach(connection: Connection, session: SessionState): void {
    connection.sessions.add(session)
    session.connections.add(connection)
    this.hooks.tracing?.sessionJoined(session, connection)
    if (session.cancelTimer !== undefined) {
      session.cancelTimer()
      session.cancelTimer = undefined
    }
    if (session.disconnected) {
      session.disconnected = false
      session.awaitingGapEnd = true
      this.hooks.log("Debug", "Session resumed on a new connection", {
        session: session.key,
        connection: connection.id
      })
    }
    this.flow.push(
      session,
      new SessionEvent.ConnectionOpened({
        session: session.key,
        at: connection.openedAt,
        connectionId: connection.id,
        ...(connection.remoteAddress === undefined ? {} : { remoteAddress: connection.remoteAddress })
      }),
      CONTROL_WEIGHT
    )
  }

  end(session: SessionState, reason: "timeout" | "shutdown"): void {
    if (session.ended) return
    if (session.cancelTimer !== undefined) {
      session.cancelTimer()
      session.cancelTimer = undefined
    }
    this.flow.flushDrops(session, true)
    this.flow.push(
      session,
      new SessionEvent.SessionEnded({ session: session.key, at: this.hooks.now(), reason }),
      CONTROL_WEIGHT
    )
    session.ended = true
    session.buffer.end()
    this.flow.ended(session)
    if (this.sessions.get(session.key) === session) this.sessions.delete(session.key)
    ServerMetrics.sessionsCurrent.unsafeModify(-1, Counters.NO_TAGS)
    Counters.endedBy(reason).unsafeUpdate(1, Counters.NO_TAGS)
    this.hooks.tracing?.sessionEnded(session, reason)
    this.hooks.log("Debug", `Session ended (${reason})`, { session: session.key })
  }

  endAll(reason: "timeout" | "shutdown"): void {
    for (const session of Array.from(this.sessions.values())) this.end(session, reason)
  }

  /** Lets every paused socket read again (at shutdown, so close handshakes can complete). */
  resumeAll(): void {
    this.flow.resumeAll(this.sessions.values())
  }
}

/** The decode failure of a frame whose session key is longer than any source accepts. */
const keyTooLong = (event: RecallEvent.RecallEvent, data: Buffer): Decoder.DecodeError => {
  const { botId, recordingId } = SessionKey.idsOf(event.data)
  const id = (botId ?? recordingId)!
  return new Decoder.DecodeError({
    reason: "InvalidShape",
    ...(event.event === "unknown" ? {} : { event: event.event }),
    path: botId !== null ? "data.bot.id" : "data.recording.id",
    issue: `Expected an id of at most ${SessionKey.MAX_LENGTH} characters, actual ${id.length}`,
    bytes: data.byteLength
  })
}
