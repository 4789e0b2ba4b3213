/**
 * The websocket server Recall's bots connect to, as a Layer. It authenticates every upgrade before it happens,
 * decodes frames in arrival order, routes them to sessions (one per meeting, however many connections feed it and
 * however often they reconnect) and offers them as Streams. It also answers `GET /healthz` and `GET /metrics`.
 *
 * ```ts
 * import { RecallServer } from "@callstream/server"
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer, Redacted, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* RecallServer.RecallServer
 *   yield* Effect.log(`listening on ${server.address.url}`)
 *   yield* server.sessions.pipe(
 *     Stream.runForEach((session) => Effect.log(`meeting ${session.key} started`))
 *   )
 * })
 *
 * program.pipe(
 *   Effect.provide(RecallServer.layer({ port: 8080, tokens: [Redacted.make("s3cret")] })),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * Buffer policy, per session: participant, transcript and control events are never dropped; when the session's
 * consumer falls behind (its buffer holds `bufferSize` events), the socket that brought the last one is paused,
 * so TCP pushes back on Recall. Audio and video arriving while the buffer is full are shed, and a `Dropped`
 * event (kind, count, meeting-time span) is emitted once there is room again.
 *
 * Consume either `events` (every session, flat) or `sessions` (one Stream per session), not both: each event is
 * delivered once.
 *
 * @since 0.1.0
 */
import * as EventSource from "@callstream/core/EventSource"
import type * as RecallEvent from "@callstream/core/RecallEvent"
import type * as SessionEvent from "@callstream/core/SessionEvent"
import type * as SessionKey from "@callstream/core/SessionKey"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type * as Net from "node:net"
import { WebSocketServer } from "ws"
import type { WebSocket } from "ws"
import { EventBuffer, MergedBuffers } from "./internal/buffer.js"
import * as Router from "./internal/router.js"
import * as ServerMetrics from "./ServerMetrics.js"
import * as UpgradeAuth from "./UpgradeAuth.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * How the server listens, authenticates and buffers. Only authentication has no default: give tokens, a signing
 * secret or both, or set `allowUnauthenticated`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends UpgradeAuth.Options {
  /** Default `0.0.0.0`. */
  readonly host?: string | undefined
  /** Default 8080; 0 picks a free port (read it from `address`). */
  readonly port?: number | undefined
  /** The websocket path. Default `/ws`; an upgrade on any other path gets 404. */
  readonly path?: string | undefined
  /** A frame larger than this closes its connection with 1009. Default 16 MiB. */
  readonly maxMessageBytes?: number | undefined
  /** How long a session waits for a connection after its last one closed. Default 95 seconds. */
  readonly sessionTimeout?: Duration.DurationInput | undefined
  /** Events a session buffers for its consumer before the policy applies. Default 1024. */
  readonly bufferSize?: number | undefined
  /** How often to ping each connection; one that has not answered since the last ping is closed. Default 30 s. */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  /** How long shutdown waits for connections to close before cutting them. Default 5 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

/**
 * Where the server listens. `url` is the websocket URL (with `localhost` for a wildcard host, and no token).
 *
 * @since 0.1.0
 * @category models
 */
export interface Address {
  readonly host: string
  readonly port: number
  readonly path: string
  readonly url: string
}

/**
 * One session (one meeting): its key, what Recall said about it, and its own Stream of events, which starts with
 * `SessionStarted` and ends after `SessionEnded`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  readonly key: SessionKey.SessionKey
  readonly botId: string | null
  readonly recordingId: string | null
  readonly metadata: typeof RecallEvent.Metadata.Type
  /** Epoch milliseconds. */
  readonly startedAt: number
  readonly events: Stream.Stream<SessionEvent.SessionEvent>
}

/**
 * What `GET /healthz` answers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Health {
  readonly status: "ok" | "shutting_down"
  readonly sessions: number
  readonly connections: number
  /** Events buffered for consumers, all sessions together. */
  readonly queued: number
}

/**
 * Why the server could not start: the options cannot work, or the port could not be bound.
 *
 * @since 0.1.0
 * @category errors
 */
export class RecallServerError extends Data.TaggedError("RecallServerError")<{
  readonly reason: "InvalidOptions" | "ListenFailed"
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `${this.reason}: ${detail}`
  }
}

/**
 * The running server.
 *
 * @since 0.1.0
 * @category tags
 */
export class RecallServer extends Context.Tag("@callstream/server/RecallServer")<RecallServer, {
  readonly address: Address
  readonly authMode: UpgradeAuth.Mode
  /** Every session's events, flat (sessions interleave; each stays in order). Ends after shutdown. */
  readonly events: Stream.Stream<SessionEvent.SessionEvent>
  /** Sessions as they start. Ends after shutdown. */
  readonly sessions: Stream.Stream<Session>
  readonly health: Effect.Effect<Health>
  /** The metrics in Prometheus text (what `GET /metrics` answers). */
  readonly metrics: Effect.Effect<string>
}>() {}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

const rawResponse = (socket: Net.Socket, status: number, text: string): void => {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${
      Buffer.byteLength(text)
    }\r\n\r\n${text}`
  )
}

/**
 * Starts the server in the current Scope; closing the Scope shuts it down gracefully: no new connections, open
 * ones closed with 1001, accepted events kept, every session ended with `SessionEnded("shutdown")`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const verifier = yield* Either.mapLeft(
    UpgradeAuth.make(options),
    (cause) => new RecallServerError({ reason: "InvalidOptions", cause })
  )
  const host = options.host ?? "0.0.0.0"
  const path = options.path ?? "/ws"
  if (!path.startsWith("/")) {
    return yield* new RecallServerError({ reason: "InvalidOptions", cause: new Error("path must start with /") })
  }
  const maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024
  const sessionTimeoutMs = Duration.toMillis(options.sessionTimeout ?? Duration.seconds(95))
  const heartbeat = Duration.decode(options.heartbeatInterval ?? Duration.seconds(30))
  const shutdownTimeout = Duration.decode(options.shutdownTimeout ?? Duration.seconds(5))
  const bufferSize = Math.max(1, options.bufferSize ?? 1024)

  yield* ServerMetrics.register
  const scope = yield* Effect.scope
  const runFork = yield* FiberSet.makeRuntime<never>()
  const clock = yield* Effect.clock
  // sessions as they start, for whichever of `sessions` or `events` is read
  const started = new EventBuffer<Router.Session>(Number.MAX_SAFE_INTEGER, () => {})

  const log = (
    level: "Info" | "Warning" | "Debug" | "Error",
    message: string,
    annotations: Record<string, string | number | undefined>
  ) => {
    const clean: Record<string, string | number> = {}
    for (const k in annotations) if (annotations[k] !== undefined) clean[k] = annotations[k]!
    const effect = level === "Info"
      ? Effect.logInfo(message)
      : level === "Warning"
      ? Effect.logWarning(message)
      : level === "Error"
      ? Effect.logError(message)
      : Effect.logDebug(message)
    runFork(Effect.annotateLogs(effect, clean))
  }

  if (verifier.mode === "none") {
    yield* Effect.logWarning(
      "AUTHENTICATION IS OFF: any client that reaches this server can send it events (allowUnauthenticated)"
    )
  }

  const router = new Router.Router(
    { bufferSize, sessionTimeoutMs, maxChunk: 4096 },
    {
      now: () => clock.unsafeCurrentTimeMillis(),
      after: (ms, f) => {
        const fiber = runFork(Effect.sleep(Duration.millis(ms)).pipe(Effect.zipRight(Effect.sync(f))))
        return () => fiber.unsafeInterruptAsFork(fiber.id())
      },
      log,
      published: (session) => started.offer(session)
    }
  )

  let shuttingDown = false
  let closedAll: (() => void) | undefined

  const health = Effect.sync((): Health => ({
    status: shuttingDown ? "shutting_down" : "ok",
    sessions: router.sessions.size,
    connections: router.connections.size,
    queued: router.queued
  }))
  const metrics = Effect.zipRight(
    Effect.sync(() => ServerMetrics.queueDepth.unsafeUpdate(router.queued, [])),
    ServerMetrics.prometheus
  )

  // -- websocket connections --------------------------------------------------

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, clientTracking: false })

  const onConnection = (ws: WebSocket, request: Http.IncomingMessage) => {
    const connection = new Router.Connection(
      Crypto.randomUUID(),
      ws,
      request.socket.remoteAddress,
      clock.unsafeCurrentTimeMillis()
    )
    const connectionScope = Effect.runSync(Scope.fork(scope, ExecutionStrategy.sequential))
    Effect.runSync(Scope.addFinalizer(
      connectionScope,
      Effect.sync(() => {
        if (ws.readyState === ws.OPEN) ws.close(1001, "server shutting down")
      })
    ))
    router.opened(connection)
    log("Info", "Connection opened", { connection: connection.id, remote: connection.remoteAddress })
    ws.on("message", (data: Buffer, _isBinary: boolean) => router.frame(connection, data))
    ws.on("pong", () => {
      connection.alive = true
    })
    // the code this server closed with, when a protocol error made it close (the peer's own is then 1006)
    let closedWith: { code: number; reason: string } | undefined
    ws.on("error", (error: Error & { code?: string }) => {
      closedWith = error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"
        ? { code: 1009, reason: "message too big" }
        : error.code === "WS_ERR_INVALID_UTF8"
        ? { code: 1007, reason: "invalid UTF-8" }
        : error.code?.startsWith("WS_ERR_") === true
        ? { code: 1002, reason: "protocol error" }
        : undefined
      log("Warning", `Connection error: ${error.message}`, { connection: connection.id, code: error.code })
    })
    ws.on("close", (code: number, reason: Buffer) => {
      const closed = closedWith ?? { code, reason: reason.toString("utf8") }
      router.closed(connection, closed.code, closed.reason, shuttingDown)
      log("Info", `Connection closed (${closed.code})`, { connection: connection.id })
      runFork(Scope.close(connectionScope, Exit.void))
      if (shuttingDown && router.connections.size === 0) closedAll?.()
    })
  }

  // -- HTTP -------------------------------------------------------------------

  const onRequest = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
    const pathname = (request.url ?? "/").split("?")[0]
    if (request.method === "GET" && pathname === "/healthz") {
      const body = JSON.stringify(Effect.runSync(health))
      response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      response.end(body)
    } else if (request.method === "GET" && pathname === "/metrics") {
      const body = Effect.runSync(metrics)
      response.writeHead(200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
        "content-length": Buffer.byteLength(body)
      })
      response.end(body)
    } else if (pathname === path) {
      response.writeHead(426, { "content-type": "text/plain", connection: "close" })
      response.end("Upgrade Required")
    } else {
      response.writeHead(404, { "content-type": "text/plain" })
      response.end("Not Found")
    }
  }

  const onUpgrade = (request: Http.IncomingMessage, socket: Net.Socket, head: Buffer) => {
    // a peer may reset at any point of the handshake: no socket error may go unhandled
    socket.on("error", () => socket.destroy())
    const remote = socket.remoteAddress
    if (shuttingDown) return rawResponse(socket, 503, "Service Unavailable")
    const url = request.url ?? "/"
    if (url.split("?")[0] !== path) return rawResponse(socket, 404, "Not Found")
    const verdict = verifier.verify({ url, headers: request.headers }, clock.unsafeCurrentTimeMillis())
    if (Either.isLeft(verdict)) {
      authFailure(verdict.left).unsafeUpdate(1, [])
      log("Warning", "Upgrade rejected: authentication failed", { remote, reason: verdict.left })
      return rawResponse(socket, 401, "Unauthorized")
    }
    wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, request))
  }

  const server = Http.createServer(onRequest)
  server.on("upgrade", onUpgrade)
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
    else socket.destroy()
  })

  yield* Effect.async<void, RecallServerError>((resume) => {
    const onError = (cause: Error) => resume(Effect.fail(new RecallServerError({ reason: "ListenFailed", cause })))
    server.once("error", onError)
    server.listen(options.port ?? 8080, host, () => {
      server.off("error", onError)
      resume(Effect.void)
    })
  })
  server.on("error", (error) => log("Error", `HTTP server error: ${error.message}`, {}))

  const bound = server.address() as Net.AddressInfo
  const urlHost = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host
  const address: Address = { host, port: bound.port, path, url: `ws://${urlHost}:${bound.port}${path}` }
  yield* Effect.logInfo(`Listening on ${address.url}`).pipe(Effect.annotateLogs({ auth: verifier.mode }))

  // -- heartbeat ----------------------------------------------------------------

  yield* Effect.sync(() => {
    for (const connection of router.connections) {
      // a paused socket reads nothing, pongs included: it is held back by us, not dead
      if (connection.pausedBy > 0) continue
      if (!connection.alive) {
        log("Warning", "Connection missed a heartbeat: closing it", { connection: connection.id })
        connection.ws.terminate()
        continue
      }
      connection.alive = false
      connection.ws.ping()
    }
  }).pipe(Effect.repeat(Schedule.spaced(heartbeat)), Effect.delay(heartbeat), Effect.forkScoped)

  // -- shutdown -----------------------------------------------------------------

  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      shuttingDown = true
      yield* Effect.logInfo("Shutting down: closing connections")
      server.close()
      router.resumeAll()
      const open = Array.from(router.connections)
      if (open.length > 0) {
        const allClosed = Effect.async<void>((resume) => {
          closedAll = () => resume(Effect.void)
          for (const connection of open) connection.ws.close(1001, "server shutting down")
          if (router.connections.size === 0) resume(Effect.void)
        })
        const clean = yield* Effect.timeout(allClosed, shutdownTimeout).pipe(Effect.option)
        if (Option.isNone(clean)) {
          yield* Effect.logWarning("Shutdown deadline passed: cutting the remaining connections")
          for (const connection of Array.from(router.connections)) connection.ws.terminate()
          // `terminate` emits close on the next tick
          yield* Effect.yieldNow()
          for (const connection of Array.from(router.connections)) {
            router.closed(connection, 1006, "terminated at shutdown", true)
          }
        }
      }
      router.endAll("shutdown")
      started.end()
      server.closeAllConnections()
      wss.close()
    })
  )

  return RecallServer.of({
    address,
    authMode: verifier.mode,
    sessions: started.stream,
    // one reader over every session's buffer: no fiber, queue or hand-over per session on the way
    events: Stream.suspend(() => new MergedBuffers(started, (session) => session.buffer, 4096).stream),
    health,
    metrics
  })
})

const authFailures = {
  missing: Metric.tagged(ServerMetrics.authFailures, "reason", "missing"),
  invalid: Metric.tagged(ServerMetrics.authFailures, "reason", "invalid"),
  stale: Metric.tagged(ServerMetrics.authFailures, "reason", "stale"),
  replayed: Metric.tagged(ServerMetrics.authFailures, "reason", "replayed")
} satisfies Record<UpgradeAuth.Failure, unknown>
const authFailure = (reason: UpgradeAuth.Failure) => authFailures[reason]

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * The server as a Layer that also provides core's `EventSource` (its flat `events`). The server shuts down
 * gracefully when the Layer's scope closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<RecallServer | EventSource.EventSource, RecallServerError> =>
  Layer.scopedContext(
    Effect.map(make(options), (server) =>
      Context.make(RecallServer, server).pipe(
        Context.add(EventSource.EventSource, EventSource.make(server.events))
      ))
  )

/**
 * Reads {@link Options} from configuration (environment variables by default), each name under `CALLSTREAM_`:
 * `HOST`, `PORT`, `PATH`, `TOKEN` (several comma-separated), `SIGNING_SECRET`, `ALLOW_UNAUTHENTICATED`,
 * `SESSION_TIMEOUT` (seconds), `MAX_MESSAGE_BYTES`, `BUFFER_SIZE`. Secrets are read as `Redacted`.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.nested(
  Config.all({
    host: Config.withDefault(Config.string("HOST"), "0.0.0.0"),
    port: Config.withDefault(
      Config.validate(Config.integer("PORT"), {
        message: "Expected a port from 0 (any free port) to 65535",
        validation: (port) => port >= 0 && port <= 65535
      }),
      8080
    ),
    path: Config.withDefault(Config.string("PATH"), "/ws"),
    tokens: Config.map(
      Config.option(Config.redacted("TOKEN")),
      Option.match({
        onNone: () => [],
        onSome: (tokens) =>
          Redacted.value(tokens).split(",").map((t) => t.trim()).filter((t) => t !== "").map((t) => Redacted.make(t))
      })
    ),
    signingSecret: Config.map(Config.option(Config.redacted("SIGNING_SECRET")), Option.getOrUndefined),
    allowUnauthenticated: Config.withDefault(Config.boolean("ALLOW_UNAUTHENTICATED"), false),
    sessionTimeout: Config.map(Config.withDefault(Config.number("SESSION_TIMEOUT"), 95), Duration.seconds),
    maxMessageBytes: Config.withDefault(Config.integer("MAX_MESSAGE_BYTES"), 16 * 1024 * 1024),
    bufferSize: Config.withDefault(Config.integer("BUFFER_SIZE"), 1024)
  }),
  "CALLSTREAM"
)

/**
 * {@link layer} with options read from configuration; see {@link config}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config<Options> = config
): Layer.Layer<RecallServer | EventSource.EventSource, RecallServerError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(options, layer))

/**
 * A server for tests: `127.0.0.1`, a free port (read it from `address`), unauthenticated unless tokens or a
 * secret are given, a 1 second session timeout and a 1 second shutdown deadline; every other option as given.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (
  options: Options = {}
): Layer.Layer<RecallServer | EventSource.EventSource, RecallServerError> =>
  layer({
    host: "127.0.0.1",
    port: 0,
    sessionTimeout: Duration.seconds(1),
    shutdownTimeout: Duration.seconds(1),
    allowUnauthenticated: options.tokens === undefined && options.signingSecret === undefined,
    ...options
  })
