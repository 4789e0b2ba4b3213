import * as Printable from "@callstream/core/Printable"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { Log } from "./log.js"
import type { Connection, SessionState } from "./state.js"

/**
 * What became of an upgrade request, as its span's `callstream.upgrade.outcome` says: `handshake_failed` when `ws`
 * refused the handshake itself (a malformed request), `failed` when handling it failed unexpectedly.
 */
export type UpgradeOutcome =
  | "accepted"
  | "shutting_down"
  | "not_found"
  | "over_limit"
  | "unauthorized"
  | "handshake_failed"
  | "failed"

/** The HTTP status each outcome answers with (a failed handshake is answered by `ws`, usually with 400). */
const statusOf: Record<UpgradeOutcome, number | undefined> = {
  accepted: 101,
  shutting_down: 503,
  not_found: 404,
  over_limit: 503,
  unauthorized: 401,
  handshake_failed: undefined,
  failed: undefined
}

/** Close codes of a connection that ended as it should: normal, going away (shutdown), no code given. */
const normalClose = new Set([1000, 1001, 1005])

/** The failure a span ends with: its message is the span's status message (and never holds a secret). */
class SpanFailure extends Data.TaggedError("SpanFailure")<{ readonly message: string }> {}

const failure = (message: string): Exit.Exit<never, SpanFailure> => Exit.fail(new SpanFailure({ message }))

type Attributes = Readonly<Record<string, string | number | boolean | undefined>>

/** A session's span and the counts it reports when it ends. */
interface SessionTrace {
  readonly span: Tracer.Span
  connections: number
  gaps: number
}

/**
 * Spans for what the server does outside any fiber: an upgrade (`callstream.upgrade`), a connection's lifetime
 * (`callstream.connection`, a child of its upgrade) and a session's (`callstream.session`, a child of the connection
 * that started it, linked to the ones that fed it later). Made only when the server starts under a tracer that
 * exports somewhere (see {@link make}); otherwise the server holds none and no code here runs.
 *
 * Socket callbacks call it, so every method is total: a tracer that throws is logged, and nothing else changes.
 * Wire-supplied text (addresses, keys, ids, close reasons) goes through `Printable.text`; no token, signature or
 * query string is ever an attribute.
 */
export class Tracing {
  /**
   * The span of the upgrade being handled now: `ws` completes a handshake synchronously, so the connection it makes
   * finds its parent here.
   */
  upgrading: Tracer.Span | undefined = undefined
  private readonly connections = new WeakMap<Connection, Tracer.Span>()
  private readonly sessions = new WeakMap<SessionState, SessionTrace>()

  constructor(
    private readonly tracer: Tracer.Tracer,
    private readonly clock: Clock.Clock,
    private readonly context: Context.Context<never>,
    private readonly authMode: string,
    private readonly log: Log
  ) {}

  private start(name: string, parent: Tracer.Span | undefined, kind: Tracer.SpanKind, attributes: Attributes) {
    const span = this.tracer.span(
      name,
      parent === undefined ? Option.none() : Option.some(parent),
      this.context,
      [],
      this.clock.unsafeCurrentTimeNanos(),
      kind,
      // a span without a parent starts a trace of its own, whatever the calling code had as its current span
      parent === undefined ? { root: true } : undefined
    )
    for (const key in attributes) {
      const value = attributes[key]
      if (value !== undefined) span.attribute(key, value)
    }
    return span
  }

  private end(span: Tracer.Span, exit: Exit.Exit<unknown, unknown>, attributes: Attributes): void {
    for (const key in attributes) {
      const value = attributes[key]
      if (value !== undefined) span.attribute(key, value)
    }
    span.end(this.clock.unsafeCurrentTimeNanos(), exit)
  }

  private total(f: () => void): void {
    try {
      f()
    } catch (cause) {
      this.log("Warning", "The tracer failed: a span is missing", {
        error: cause instanceof Error ? cause.message : String(cause)
      })
    }
  }

  /** Starts the span of an upgrade request, before anything is checked. */
  upgradeStarted(remote: string | undefined): void {
    this.total(() => {
      this.upgrading = this.start("callstream.upgrade", undefined, "server", {
        "callstream.auth.mode": this.authMode,
        "client.address": remote === undefined ? undefined : Printable.text(remote)
      })
    })
  }

  /**
   * Ends the current upgrade's span with what became of it: a refusal is an error whose message names the status
   * and, for authentication, the reason (never the credentials).
   */
  upgradeEnded(outcome: UpgradeOutcome, detail?: { readonly reason?: string; readonly limit?: string }): void {
    const span = this.upgrading
    this.upgrading = undefined
    if (span === undefined) return
    this.total(() => {
      const status = statusOf[outcome]
      this.end(
        span,
        outcome === "accepted" ?
          Exit.void :
          failure(`upgrade refused: ${outcome}${detail?.reason === undefined ? "" : ` (${detail.reason})`}`),
        {
          "callstream.upgrade.outcome": outcome,
          "http.response.status_code": status,
          "callstream.auth.failure": detail?.reason,
          "callstream.limit": detail?.limit
        }
      )
    })
  }

  /** Starts a connection's span, as a child of the upgrade that made it. */
  connectionOpened(connection: Connection): void {
    this.total(() => {
      const span = this.start("callstream.connection", this.upgrading, "internal", {
        "callstream.connection.id": connection.id,
        "client.address": connection.remoteAddress === undefined ? undefined : Printable.text(connection.remoteAddress)
      })
      this.connections.set(connection, span)
    })
  }

  /** Ends a connection's span with its close code: an error unless it closed normally or went away. */
  connectionClosed(connection: Connection, code: number, reason: string): void {
    const span = this.connections.get(connection)
    if (span === undefined) return
    this.connections.delete(connection)
    this.total(() =>
      this.end(span, normalClose.has(code) ? Exit.void : failure(`connection closed with ${code}`), {
        "websocket.close.code": code,
        "websocket.close.reason": reason === "" ? undefined : Printable.text(reason, 200)
      })
    )
  }

  /**
   * A connection joins a session: the first one starts the session's span as its child; each later one is counted
   * and linked to it.
   */
  sessionJoined(session: SessionState, connection: Connection): void {
    this.total(() => {
      const parent = this.connections.get(connection)
      const trace = this.sessions.get(session)
      if (trace !== undefined) {
        trace.connections++
        if (parent !== undefined) trace.span.addLinks([{ _tag: "SpanLink", span: parent, attributes: {} }])
        return
      }
      const span = this.start("callstream.session", parent, "internal", {
        "callstream.session.key": Printable.text(session.key),
        "callstream.bot.id": session.botId === null ? undefined : Printable.text(session.botId),
        "callstream.recording.id": session.recordingId === null ? undefined : Printable.text(session.recordingId)
      })
      this.sessions.set(session, { span, connections: 1, gaps: 0 })
    })
  }

  /** A session found a gap in its data (counted on its span). */
  sessionGap(session: SessionState): void {
    const trace = this.sessions.get(session)
    if (trace !== undefined) trace.gaps++
  }

  /** Ends a session's span with why it ended and its counts. */
  sessionEnded(session: SessionState, reason: "timeout" | "shutdown"): void {
    const trace = this.sessions.get(session)
    if (trace === undefined) return
    this.sessions.delete(session)
    this.total(() =>
      this.end(trace.span, Exit.void, {
        "callstream.session.end_reason": reason,
        "callstream.session.connections": trace.connections,
        "callstream.session.gaps": trace.gaps
      })
    )
  }
}

/**
 * Tracing for a server starting now, or `undefined` when it is off: `enabled` when given, else on exactly when the
 * current tracer is not Effect's built-in one (which exports nowhere) and tracing is not disabled for the fiber.
 * Decided once, so a server without a tracer makes no span and pays for none.
 */
export const make = (options: {
  readonly enabled: boolean | undefined
  readonly authMode: string
  readonly log: Log
}): Effect.Effect<Tracing | undefined> =>
  Effect.gen(function*() {
    const tracer = yield* Effect.tracer
    const allowed = yield* FiberRef.get(FiberRef.currentTracerEnabled)
    const on = allowed && (options.enabled ?? tracer !== Context.get(DefaultServices.liveServices, Tracer.Tracer))
    if (!on) return undefined
    const clock = yield* Effect.clock
    const context = yield* Effect.context<never>()
    return new Tracing(tracer, clock, context, options.authMode, options.log)
  })
