import * as SessionEvent from "@callstream/core/SessionEvent"
import * as ServerMetrics from "../ServerMetrics.js"
import * as Counters from "./counters.js"
import type { Log } from "./log.js"
import type { Connection, SessionState } from "./state.js"

/** The limits that hold events back. */
export interface FlowOptions {
  /** Events one session's buffer holds before the policy applies. */
  readonly bufferSize: number
  /** Bytes one session's buffer holds before the policy applies. */
  readonly bufferBytes: number
  /** Bytes all sessions' buffers hold together before the policy applies to every session. */
  readonly memoryBudget: number
}

/**
 * What a control event weighs in the byte accounting (a message weighs its frame's bytes): about what one holds,
 * a `DecodeFailed` with its cut issue included.
 */
export const CONTROL_WEIGHT = 512

/**
 * Bytes held by all sessions together past which the reader is hurried, whatever the budget: a turn that reads many
 * sockets, each bringing a frame or two for its own session, then hands them over in pieces of about this size
 * instead of holding every frame of the turn at once.
 */
export const HURRY_HELD_BYTES = 256 * 1024

/** The kinds of media that may be shed. */
export type MediaKind = typeof SessionEvent.MediaKind.Type

/**
 * The buffer policy and the memory budget. Participant, transcript and control events are always buffered; the
 * socket that brought one is paused while its session's buffer is over either limit (events or bytes), or while
 * all buffers together are over the memory budget. Audio and video are shed while either applies, and a `Dropped`
 * event says so once there is room again. A session's paused sockets resume once its buffer is back to half of both
 * limits; the ones the budget paused once all buffers together are back to half of it.
 */
export class Flow {
  /** Events held for consumers, all sessions together. */
  queued = 0
  /** Bytes held for consumers, all sessions together. */
  queuedBytes = 0
  /** Connections paused now, for any reason. */
  pausedConnections = 0
  /** The budget was reached and all buffers together have not drained to half of it since. */
  private overBudget = false
  private readonly budgetPaused = new Set<Connection>()
  private readonly pendingDrops = new Set<SessionState>()
  private readonly lowWater: number
  private readonly lowWaterBytes: number
  private readonly budgetLowWater: number
  /**
   * A quarter of each limit (for all sessions together, `HURRY_HELD_BYTES` at most): past it, the session's reader is
   * hurried (see `EventBuffer.hurry`).
   */
  private readonly hurryItems: number
  private readonly hurryBytes: number
  private readonly hurryBudget: number

  constructor(
    readonly options: FlowOptions,
    private readonly now: () => number,
    private readonly log: Log
  ) {
    this.lowWater = Math.floor(options.bufferSize / 2)
    this.lowWaterBytes = Math.floor(options.bufferBytes / 2)
    this.budgetLowWater = Math.floor(options.memoryBudget / 2)
    this.hurryItems = Math.max(1, Math.floor(options.bufferSize / 4))
    this.hurryBytes = Math.floor(options.bufferBytes / 4)
    this.hurryBudget = Math.min(HURRY_HELD_BYTES, Math.floor(options.memoryBudget / 4))
    ServerMetrics.memoryBudget.unsafeUpdate(options.memoryBudget, Counters.NO_TAGS)
  }

  /** Whether this session's buffer is over one of its limits now. */
  private isFull(session: SessionState): boolean {
    return session.buffer.size >= this.options.bufferSize || session.buffer.bytes >= this.options.bufferBytes
  }

  /** Whether media for this session is shed now. */
  sheds(session: SessionState): boolean {
    return this.queuedBytes >= this.options.memoryBudget || this.isFull(session)
  }

  /**
   * Buffers an event for its session's consumer. Consumers normally take once per turn of the event loop, in one
   * chunk; a buffer a quarter of the way to a limit has its consumer take right away, so a burst within one turn
   * meets the limits only when the consumer really is behind.
   */
  push(session: SessionState, item: SessionEvent.SessionEvent, weight: number): void {
    if (session.ended) return
    const buffer = session.buffer
    buffer.offer(item, weight)
    this.queued++
    this.queuedBytes += weight
    if (buffer.size >= this.hurryItems || buffer.bytes >= this.hurryBytes || this.queuedBytes >= this.hurryBudget) {
      buffer.hurry()
    }
    if (!session.full && this.isFull(session)) this.filled(session)
    if (!this.overBudget && this.queuedBytes >= this.options.memoryBudget) this.reachedBudget()
  }

  /** After a never-dropped event from `connection` was buffered: pauses the socket while a limit applies. */
  hold(session: SessionState, connection: Connection): void {
    if (this.isFull(session) && !session.paused.has(connection)) {
      session.paused.add(connection)
      this.pause(connection)
    }
    if (this.queuedBytes >= this.options.memoryBudget && !this.budgetPaused.has(connection)) {
      this.budgetPaused.add(connection)
      this.pause(connection)
    }
  }

  /** Sheds one media message about meeting time `t`: counted now, reported as `Dropped` once there is room. */
  shed(session: SessionState, kind: MediaKind, t: number): void {
    const span = session.drops[kind]
    if (span === undefined) session.drops[kind] = { count: 1, from: t, to: t }
    else {
      span.count++
      if (t < span.from) span.from = t
      if (t > span.to) span.to = t
    }
    this.pendingDrops.add(session)
    Counters.droppedBy(kind).unsafeUpdate(1, Counters.NO_TAGS)
  }

  /** Reports what was shed for this session, once it has room again (or at once, when `force`d at its end). */
  flushDrops(session: SessionState, force = false): void {
    const { audio, video } = session.drops
    if (audio === undefined && video === undefined) return
    if (!force && this.sheds(session)) return
    session.drops = { audio: undefined, video: undefined }
    this.pendingDrops.delete(session)
    const at = this.now()
    for (const [kind, span] of [["audio", audio], ["video", video]] as const) {
      if (span === undefined) continue
      this.push(session, new SessionEvent.Dropped({ session: session.key, at, kind, ...span }), CONTROL_WEIGHT)
      this.log("Warning", "Media shed while the consumer was behind", {
        session: session.key,
        kind,
        count: span.count,
        from: span.from,
        to: span.to
      })
    }
  }

  /** A consumer took `taken` events (`bytes` of them) from `session`'s buffer. */
  readonly taken = (session: SessionState, taken: number, bytes: number): void => {
    this.queued -= taken
    this.queuedBytes -= bytes
    ServerMetrics.queueDepth.unsafeUpdate(this.queued, Counters.NO_TAGS)
    ServerMetrics.queueBytes.unsafeUpdate(this.queuedBytes, Counters.NO_TAGS)
    if (this.overBudget && this.queuedBytes <= this.budgetLowWater) this.underBudget()
    if (session.ended || session.buffer.size > this.lowWater || session.buffer.bytes > this.lowWaterBytes) return
    session.full = false
    this.flushDrops(session)
    if (session.paused.size > 0) this.release(session.paused)
  }

  /** A connection closed: nothing holds it any more. */
  closed(connection: Connection): void {
    for (const session of connection.sessions) if (session.paused.delete(connection)) this.unpause(connection)
    if (this.budgetPaused.delete(connection)) this.unpause(connection)
  }

  /** A session ended: it holds no socket any more. */
  ended(session: SessionState): void {
    this.pendingDrops.delete(session)
    this.release(session.paused)
  }

  /** Lets every paused socket read again (at shutdown, so close handshakes can complete). */
  resumeAll(sessions: Iterable<SessionState>): void {
    for (const session of sessions) this.release(session.paused)
    this.release(this.budgetPaused)
  }

  private filled(session: SessionState): void {
    session.full = true
    const limit = session.buffer.size >= this.options.bufferSize ? "buffer_size" : "buffer_bytes"
    Counters.limitReached(limit)
    this.log("Warning", "Session buffer full: shedding media, pausing sockets that bring other events", {
      session: session.key,
      limit,
      events: session.buffer.size,
      bytes: session.buffer.bytes
    })
  }

  private reachedBudget(): void {
    this.overBudget = true
    Counters.limitReached("memory_budget")
    this.log("Warning", "Memory budget reached: shedding media, pausing sockets that bring other events", {
      bytes: this.queuedBytes,
      budget: this.options.memoryBudget,
      events: this.queued
    })
  }

  private underBudget(): void {
    this.overBudget = false
    const resumed = this.budgetPaused.size
    this.release(this.budgetPaused)
    for (const session of Array.from(this.pendingDrops)) this.flushDrops(session)
    this.log("Info", "Back under half the memory budget: sockets resumed", { bytes: this.queuedBytes, resumed })
  }

  private release(holders: Set<Connection>): void {
    for (const connection of holders) this.unpause(connection)
    holders.clear()
  }

  private pause(connection: Connection): void {
    if (connection.pausedBy++ === 0) {
      connection.socket.pause()
      this.pausedConnections++
      ServerMetrics.pauses.unsafeUpdate(1, Counters.NO_TAGS)
      ServerMetrics.pausedConnections.unsafeUpdate(this.pausedConnections, Counters.NO_TAGS)
    }
  }

  private unpause(connection: Connection): void {
    if (connection.pausedBy > 0 && --connection.pausedBy === 0) {
      this.pausedConnections--
      ServerMetrics.pausedConnections.unsafeUpdate(this.pausedConnections, Counters.NO_TAGS)
      if (connection.closed) return
      // a pong that came while the socket was paused is still unread: give the heartbeat a full round again
      connection.alive = true
      connection.socket.resume()
    }
  }
}
