import * as Decoder from "@callstream/core/Decoder"
import * as RecallEvent from "@callstream/core/RecallEvent"
import * as SessionEvent from "@callstream/core/SessionEvent"
import * as SessionKey from "@callstream/core/SessionKey"
import * as Metric from "effect/Metric"
import type * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type { WebSocket } from "ws"
import type * as RecallServer from "../RecallServer.js"
import * as ServerMetrics from "../ServerMetrics.js"
import { EventBuffer } from "./buffer.js"

/** What the router needs from its host: time, timers, logs and where new sessions go. */
export interface Hooks {
  readonly now: () => number
  /** Runs `f` after `ms`; returns a canceller. */
  readonly after: (ms: number, f: () => void) => () => void
  readonly log: (
    level: "Info" | "Warning" | "Debug",
    message: string,
    annotations: Record<string, string | number | undefined>
  ) => void
  readonly published: (session: Session) => void
}

export interface RouterOptions {
  readonly bufferSize: number
  readonly sessionTimeoutMs: number
  readonly maxChunk: number
}

type Metadata = typeof RecallEvent.Metadata.Type

interface DropSpan {
  count: number
  from: number
  to: number
}

const NO_TAGS: ReadonlyArray<MetricLabel.MetricLabel> = []

/** Tagged variants of a metric, made once per tag value (the hot path then finds its hook without hashing). */
const taggedCache = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, key: string) => {
  const cache = new Map<string, Metric.Metric<Type, In, Out>>()
  return (value: string): Metric.Metric<Type, In, Out> => {
    let m = cache.get(value)
    if (m === undefined) {
      m = Metric.tagged(metric, key, value)
      cache.set(value, m)
    }
    return m
  }
}

const messagesBy = taggedCache(ServerMetrics.messages, "event")
const bytesBy = taggedCache(ServerMetrics.messageBytes, "event")
const decodeFailuresBy = taggedCache(ServerMetrics.decodeFailures, "reason")
const droppedBy = taggedCache(ServerMetrics.dropped, "kind")
const closedBy = taggedCache(ServerMetrics.connectionsClosed, "code")
const endedBy = taggedCache(ServerMetrics.sessionsEnded, "reason")

/** One websocket connection. */
export class Connection {
  readonly sessions = new Set<Session>()
  lastSession: Session | undefined = undefined
  /** How many sessions hold this connection paused. */
  pausedBy = 0
  alive = true
  closed = false
  failures = 0
  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    readonly remoteAddress: string | undefined,
    readonly openedAt: number
  ) {}
}

/** One session: its buffer and the state of its connections. */
export class Session implements RecallServer.Session {
  readonly buffer: EventBuffer<SessionEvent.SessionEvent>
  readonly events: Stream.Stream<SessionEvent.SessionEvent>
  readonly connections = new Set<Connection>()
  readonly paused = new Set<Connection>()
  lastTime: number | undefined = undefined
  /** No connection since `gapFrom` (the last meeting time seen); set when the last connection closed. */
  disconnected = false
  gapFrom: number | undefined = undefined
  awaitingGapEnd = false
  drops: { audio: DropSpan | undefined; video: DropSpan | undefined } = { audio: undefined, video: undefined }
  cancelTimer: (() => void) | undefined = undefined
  ended = false

  constructor(
    readonly key: SessionKey.SessionKey,
    readonly botId: string | null,
    readonly recordingId: string | null,
    readonly metadata: Metadata,
    readonly startedAt: number,
    maxChunk: number,
    onTake: (session: Session, taken: number) => void
  ) {
    this.buffer = new EventBuffer(maxChunk, (taken) => onTake(this, taken))
    this.events = this.buffer.stream
  }
}

const annotate = (session: Session | undefined, connection: Connection | undefined) => ({
  session: session?.key,
  connection: connection?.id
})

/**
 * Routes decoded frames to sessions and applies the buffer policy: participant, transcript and control events are
 * always buffered (the socket that brought one is paused while its session's buffer is over capacity); audio and
 * video are shed while the buffer is full, and a `Dropped` event says so once room is back.
 */
export class Router {
  readonly sessions = new Map<SessionKey.SessionKey, Session>()
  readonly connections = new Set<Connection>()
  queued = 0
  private readonly lowWater: number

  constructor(readonly options: RouterOptions, readonly hooks: Hooks) {
    this.lowWater = Math.floor(options.bufferSize / 2)
  }

  // ---------------------------------------------------------------------------
  // connections
  // ---------------------------------------------------------------------------

  opened(connection: Connection): void {
    this.connections.add(connection)
    ServerMetrics.connectionsTotal.unsafeUpdate(1, NO_TAGS)
    ServerMetrics.connectionsCurrent.unsafeModify(1, NO_TAGS)
  }

  closed(connection: Connection, code: number, reason: string, shuttingDown: boolean): void {
    if (connection.closed) return
    connection.closed = true
    this.connections.delete(connection)
    ServerMetrics.connectionsCurrent.unsafeModify(-1, NO_TAGS)
    closedBy(String(code)).unsafeUpdate(1, NO_TAGS)
    const at = this.hooks.now()
    for (const session of connection.sessions) {
      if (session.ended) continue
      this.push(
        session,
        new SessionEvent.ConnectionClosed({ session: session.key, at, connectionId: connection.id, code, reason })
      )
      session.connections.delete(connection)
      session.paused.delete(connection)
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

  frame(connection: Connection, data: Buffer): void {
    const at = this.hooks.now()
    connection.alive = true
    const raw = data.toString("utf8")
    const result = Decoder.decodeEither(raw)
    if (result._tag === "Left") return this.failed(connection, result.left, at)
    const event = result.right
    // unknown names come from the wire: they share one label, so the metric's cardinality stays bounded
    const name = event.event
    messagesBy(name).unsafeUpdate(1, NO_TAGS)
    bytesBy(name).unsafeUpdate(data.byteLength, NO_TAGS)
    const key = SessionKey.fromEvent(event)
    let session: Session | undefined
    if (Option.isSome(key)) {
      session = this.sessions.get(key.value)
      if (session === undefined) session = this.start(key.value, event, at)
    } else {
      session = connection.lastSession
      if (session === undefined || session.ended) {
        ServerMetrics.unrouted.unsafeUpdate(1, NO_TAGS)
        return
      }
    }
    if (!connection.sessions.has(session)) this.attach(connection, session)
    connection.lastSession = session
    this.message(
      session,
      connection,
      SessionEvent.message(session.key, event, at, { connectionId: connection.id, raw }),
      event
    )
  }

  private failed(connection: Connection, error: Decoder.DecodeError, at: number): void {
    decodeFailuresBy(error.reason).unsafeUpdate(1, NO_TAGS)
    const session = connection.lastSession
    if (session === undefined || session.ended) {
      ServerMetrics.unrouted.unsafeUpdate(1, NO_TAGS)
    } else {
      this.push(
        session,
        new SessionEvent.DecodeFailed({ session: session.key, at, connectionId: connection.id, error })
      )
      // never dropped, so held back like participant and transcript events: a flood of bad frames pauses its socket
      if (session.buffer.size >= this.options.bufferSize) this.pause(session, connection)
    }
    // the first few failures of a connection are logged; a flood of bad frames is only counted
    if (++connection.failures <= 5) {
      this.hooks.log("Warning", `Frame could not be decoded: ${error.message}`, annotate(session, connection))
    }
  }

  private message(
    session: Session,
    connection: Connection,
    item: SessionEvent.Message,
    event: RecallEvent.RecallEvent
  ) {
    // a gap runs from the latest meeting time seen before the drop to the first later time seen after it; an event
    // about older times (a late transcript final) does not end it
    const latest = RecallEvent.latestTimeOf(event)
    if (latest !== undefined) {
      if (session.awaitingGapEnd && (session.gapFrom === undefined || latest > session.gapFrom)) {
        session.awaitingGapEnd = false
        if (session.gapFrom !== undefined) {
          ServerMetrics.gaps.unsafeUpdate(1, NO_TAGS)
          // data resumed where this event's data begins: an audio chunk's first sample, else its latest time
          const resumed = RecallEvent.isAudioEvent(event) ? event.data.data.timestamp.relative : latest
          this.push(
            session,
            new SessionEvent.Gap({
              session: session.key,
              at: item.receivedAt,
              from: session.gapFrom,
              to: Math.max(session.gapFrom, resumed)
            })
          )
        }
      }
      if (session.lastTime === undefined || latest > session.lastTime) session.lastTime = latest
    }
    const kind = RecallEvent.isAudioEvent(event) ? "audio" : RecallEvent.isVideoEvent(event) ? "video" : undefined
    if (kind !== undefined && session.buffer.size >= this.options.bufferSize) {
      const span = session.drops[kind]
      const t = RecallEvent.relativeTimeOf(event) ?? session.lastTime ?? 0
      if (span === undefined) session.drops[kind] = { count: 1, from: t, to: t }
      else {
        span.count++
        if (t < span.from) span.from = t
        if (t > span.to) span.to = t
      }
      droppedBy(kind).unsafeUpdate(1, NO_TAGS)
      return
    }
    this.flushDrops(session)
    this.push(session, item)
    if (kind === undefined && session.buffer.size >= this.options.bufferSize) this.pause(session, connection)
  }

  // ---------------------------------------------------------------------------
  // sessions
  // ---------------------------------------------------------------------------

  private start(key: SessionKey.SessionKey, event: RecallEvent.RecallEvent, at: number): Session {
    const started = SessionEvent.startedBy(key, event, at)
    const { botId, metadata, recordingId } = started
    const session = new Session(key, botId, recordingId, metadata, at, this.options.maxChunk, this.taken)
    this.sessions.set(key, session)
    ServerMetrics.sessionsTotal.unsafeUpdate(1, NO_TAGS)
    ServerMetrics.sessionsCurrent.unsafeModify(1, NO_TAGS)
    this.push(session, started)
    this.hooks.log("Info", "Session started", {
      session: key,
      bot: botId ?? undefined,
      recording: recordingId ?? undefined
    })
    this.hooks.published(session)
    return session
  }

  private attach(connection: Connection, session: Session): void {
    connection.sessions.add(session)
    session.connections.add(connection)
    if (session.cancelTimer !== undefined) {
      session.cancelTimer()
      session.cancelTimer = undefined
    }
    if (session.disconnected) {
      session.disconnected = false
      session.awaitingGapEnd = true
      this.hooks.log("Info", "Session resumed on a new connection", annotate(session, connection))
    }
    this.push(
      session,
      new SessionEvent.ConnectionOpened({
        session: session.key,
        at: connection.openedAt,
        connectionId: connection.id,
        ...(connection.remoteAddress === undefined ? {} : { remoteAddress: connection.remoteAddress })
      })
    )
  }

  end(session: Session, reason: "timeout" | "shutdown"): void {
    if (session.ended) return
    if (session.cancelTimer !== undefined) {
      session.cancelTimer()
      session.cancelTimer = undefined
    }
    this.flushDrops(session, true)
    this.push(session, new SessionEvent.SessionEnded({ session: session.key, at: this.hooks.now(), reason }))
    session.ended = true
    session.buffer.end()
    for (const connection of session.paused) this.unpause(connection)
    session.paused.clear()
    if (this.sessions.get(session.key) === session) this.sessions.delete(session.key)
    ServerMetrics.sessionsCurrent.unsafeModify(-1, NO_TAGS)
    endedBy(reason).unsafeUpdate(1, NO_TAGS)
    this.hooks.log("Info", `Session ended (${reason})`, annotate(session, undefined))
  }

  endAll(reason: "timeout" | "shutdown"): void {
    for (const session of Array.from(this.sessions.values())) this.end(session, reason)
  }

  // ---------------------------------------------------------------------------
  // buffer policy
  // ---------------------------------------------------------------------------

  private push(session: Session, item: SessionEvent.SessionEvent): void {
    if (session.ended) return
    session.buffer.offer(item)
    this.queued++
  }

  private flushDrops(session: Session, force = false): void {
    const { audio, video } = session.drops
    if (audio === undefined && video === undefined) return
    if (!force && session.buffer.size >= this.options.bufferSize) return
    const at = this.hooks.now()
    for (const [kind, span] of [["audio", audio], ["video", video]] as const) {
      if (span === undefined) continue
      this.push(session, new SessionEvent.Dropped({ session: session.key, at, kind, ...span }))
      this.hooks.log(
        "Warning",
        `Shed ${span.count} ${kind} messages (meeting time ${span.from}s to ${span.to}s)`,
        annotate(session, undefined)
      )
    }
    session.drops = { audio: undefined, video: undefined }
  }

  private pause(session: Session, connection: Connection): void {
    if (session.paused.has(connection)) return
    session.paused.add(connection)
    if (connection.pausedBy++ === 0) {
      connection.ws.pause()
      ServerMetrics.pauses.unsafeUpdate(1, NO_TAGS)
    }
  }

  private unpause(connection: Connection): void {
    if (connection.pausedBy > 0 && --connection.pausedBy === 0) {
      // a pong that came while the socket was paused is still unread: give the heartbeat a full round again
      connection.alive = true
      connection.ws.resume()
    }
  }

  private readonly taken = (session: Session, taken: number): void => {
    this.queued -= taken
    ServerMetrics.queueDepth.unsafeUpdate(this.queued, NO_TAGS)
    if (session.buffer.size > this.lowWater || session.ended) return
    this.flushDrops(session)
    if (session.paused.size > 0) {
      for (const connection of session.paused) this.unpause(connection)
      session.paused.clear()
    }
  }

  /** Lets every paused socket read again (at shutdown, so close handshakes can complete). */
  resumeAll(): void {
    for (const session of this.sessions.values()) {
      for (const connection of session.paused) this.unpause(connection)
      session.paused.clear()
    }
  }
}
