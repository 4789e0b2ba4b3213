/**
 * The websocket server Recall's bots connect to, as a Layer. It authenticates every upgrade before it happens,
 * decodes frames in arrival order, routes them to sessions (one per meeting, however many connections feed it and
 * however often they reconnect) and offers them as Streams. It also answers `GET /healthz` and `GET /metrics`.
 *
 * Buffer policy, per session: participant, transcript and control events are never dropped; when the session's
 * consumer falls behind (its buffer holds `bufferSize` events or `bufferBytes` bytes), the socket that brought the
 * last one is paused, so TCP pushes back on Recall. Audio and video arriving while the buffer is full are shed, and
 * a `Dropped` event (kind, count, meeting-time span) is emitted once there is room again. The same applies to every
 * session at once while all buffers together hold `memoryBudget` bytes: with many slow consumers the server slows
 * down instead of running out of memory.
 *
 * Limits, each with a default, a metric (`callstream_limit_reached_total{limit}`) and a log line when it bites:
 * concurrent sessions and sessions per connection (frames refused, counted in `callstream_refused_frames_total`; a
 * connection that feeds no session is closed with 1013 so Recall retries it), open connections in all and per
 * remote address (the upgrade is answered 503, which Recall retries), the two buffer limits per session and the
 * memory budget (media shed with `Dropped`, sockets paused). Every frame has exactly one outcome: a message, a
 * `DecodeFailed`, media shed, or a frame counted as unroutable or refused; nothing a peer sends can throw out of a
 * socket callback.
 *
 * Consume either `events` (every session, flat) or `sessions` (one Stream per session), not both: each event is
 * delivered once.
 *
 * @example
 * ```ts
 * import { RecallServer } from "@callstream/server"
 * import { Effect, Redacted, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* RecallServer.RecallServer
 *   yield* Effect.log(`listening on ${server.address.url}`)
 *   yield* server.sessions.pipe(
 *     Stream.runForEach((session) => Effect.log(`meeting ${session.key} started`))
 *   )
 * })
 *
 * // serves until interrupted: run it with `NodeRuntime.runMain(main)` from @effect/platform-node
 * const main = program.pipe(Effect.provide(RecallServer.layer({ port: 8080, tokens: [Redacted.make("s3cret")] })))
 * ```
 *
 * @since 0.1.0
 */
import * as EventSource from "@callstream/core/EventSource"
import type * as EventStream from "@callstream/core/EventStream"
import type * as RecallEvent from "@callstream/core/RecallEvent"
import type * as SessionEvent from "@callstream/core/SessionEvent"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Stream from "effect/Stream"
import * as Server from "./internal/server.js"
import * as Settings from "./internal/settings.js"
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
  /** Bytes of frames a session buffers for its consumer before the policy applies. Default 16 MiB. */
  readonly bufferBytes?: number | undefined
  /**
   * Bytes of frames all sessions together buffer for their consumers before the policy applies to every session;
   * paused sockets resume once the total is back under half of it. Default: an eighth of V8's heap limit (about
   * 512 MiB with Node's defaults), since the heap holds each buffered frame about twice.
   */
  readonly memoryBudget?: number | undefined
  /** Sessions open at once; a frame that would start one more is refused. Default 10 000. */
  readonly maxSessions?: number | undefined
  /** Sessions one connection may feed (Recall sends one per connection). Default 16. */
  readonly maxSessionsPerConnection?: number | undefined
  /** Open websocket connections; one more upgrade is answered 503. Default 10 000. */
  readonly maxConnections?: number | undefined
  /**
   * Open websocket connections from one remote address; one more upgrade from it is answered 503. Default: the
   * same as `maxConnections`, since every Recall bot connects from a few Recall egress addresses, and behind a
   * reverse proxy every connection comes from the proxy. Lower it only where peers connect directly.
   */
  readonly maxConnectionsPerAddress?: number | undefined
  /**
   * How often to ping each connection; one that has not answered since the last ping is closed. Default 30 s. The
   * connections are pinged a tenth at a time, spread over the interval, not all in one turn of the event loop.
   */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  /** How long shutdown waits for connections to close before cutting them. Default 5 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /**
   * Spans for upgrades (`callstream.upgrade`), connections (`callstream.connection`) and sessions
   * (`callstream.session`) through the Effect `Tracer` the server starts under. Default: on when that tracer is not
   * Effect's built-in one (which exports nowhere), e.g. once `@effect/opentelemetry`'s layer is provided; a server
   * without one makes no spans and its frames cost nothing more. `false` turns them off under any tracer.
   */
  readonly tracing?: boolean | undefined
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
 * One session (one meeting) as `sessions` hands it out: an `EventStream.Session` (its key and its own Stream of
 * events, which starts with `SessionStarted` and ends after `SessionEnded`) with what Recall said about it, so code
 * written for an `EventStream.Session` takes it as it is.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session extends EventStream.Session {
  readonly botId: string | null
  readonly recordingId: string | null
  readonly metadata: typeof RecallEvent.Metadata.Type
  /** Epoch milliseconds. */
  readonly startedAt: number
}

/**
 * What `GET /healthz` answers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Health {
  /** `shutting_down` (answered with 503) from the start of a graceful shutdown. */
  readonly status: "ok" | "shutting_down"
  readonly sessions: number
  readonly connections: number
  /** Connections paused now, because a consumer fell behind. */
  readonly paused: number
  /** Events buffered for consumers, all sessions together. */
  readonly queued: number
  /** Bytes of frames buffered for consumers, all sessions together (what `memoryBudget` bounds). */
  readonly queuedBytes: number
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

/**
 * Starts the server in the current Scope; closing the Scope shuts it down gracefully: no new connections, open
 * ones closed with 1001, accepted events kept, every session ended with `SessionEnded("shutdown")`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const invalid = (cause: unknown) => new RecallServerError({ reason: "InvalidOptions", cause })
  const verifier = yield* Either.mapLeft(UpgradeAuth.make(options), invalid)
  const { defaults } = Settings
  const maxConnections = options.maxConnections ?? defaults.maxConnections
  const settings: Settings.Settings = {
    host: options.host ?? defaults.host,
    port: options.port ?? defaults.port,
    path: options.path ?? defaults.path,
    maxMessageBytes: options.maxMessageBytes ?? defaults.maxMessageBytes,
    sessionTimeoutMs: Duration.toMillis(options.sessionTimeout ?? Duration.seconds(defaults.sessionTimeoutSeconds)),
    heartbeatMs: Duration.toMillis(options.heartbeatInterval ?? Duration.seconds(defaults.heartbeatSeconds)),
    shutdownMs: Duration.toMillis(options.shutdownTimeout ?? Duration.seconds(defaults.shutdownSeconds)),
    bufferSize: Math.max(1, options.bufferSize ?? defaults.bufferSize),
    bufferBytes: options.bufferBytes ?? defaults.bufferBytes,
    memoryBudget: options.memoryBudget ?? Settings.defaultMemoryBudget(),
    maxSessions: options.maxSessions ?? defaults.maxSessions,
    maxSessionsPerConnection: options.maxSessionsPerConnection ?? defaults.maxSessionsPerConnection,
    maxConnections,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? maxConnections
  }
  const problem = Settings.problem(settings)
  if (problem !== undefined) return yield* Effect.fail(invalid(new Error(problem)))
  const server = yield* Effect.mapError(
    Server.start(settings, verifier, options.tracing),
    (cause) => new RecallServerError({ reason: "ListenFailed", cause })
  )
  return RecallServer.of(server)
})

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

/** An optional count setting: a whole number of at least 1, or absent (the option's default). */
const count = (name: string): Config.Config<number | undefined> =>
  Config.map(
    Config.option(Config.validate(Config.integer(name), {
      message: "Expected a whole number of at least 1",
      validation: (n) => n >= 1
    })),
    Option.getOrUndefined
  )

/**
 * Reads {@link Options} from configuration (environment variables by default), each name under `CALLSTREAM_`:
 * `HOST`, `PORT`, `PATH`, `TOKEN` (several comma-separated), `SIGNING_SECRET`, `ALLOW_UNAUTHENTICATED`,
 * `SESSION_TIMEOUT` (seconds), `MAX_MESSAGE_BYTES`, `BUFFER_SIZE`, `BUFFER_BYTES`, `MEMORY_BUDGET` (bytes),
 * `MAX_SESSIONS`, `MAX_SESSIONS_PER_CONNECTION`, `MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_ADDRESS`,
 * `MAX_REMEMBERED_IDS`. Secrets are read as `Redacted`; a setting left out takes the option's default.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.nested(
  Config.all({
    host: Config.withDefault(Config.string("HOST"), Settings.defaults.host),
    port: Config.withDefault(
      Config.validate(Config.integer("PORT"), {
        message: "Expected a port from 0 (any free port) to 65535",
        validation: (port) => port >= 0 && port <= 65535
      }),
      Settings.defaults.port
    ),
    path: Config.withDefault(Config.string("PATH"), Settings.defaults.path),
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
    sessionTimeout: Config.map(
      Config.withDefault(Config.number("SESSION_TIMEOUT"), Settings.defaults.sessionTimeoutSeconds),
      Duration.seconds
    ),
    maxMessageBytes: count("MAX_MESSAGE_BYTES"),
    bufferSize: count("BUFFER_SIZE"),
    bufferBytes: count("BUFFER_BYTES"),
    memoryBudget: count("MEMORY_BUDGET"),
    maxSessions: count("MAX_SESSIONS"),
    maxSessionsPerConnection: count("MAX_SESSIONS_PER_CONNECTION"),
    maxConnections: count("MAX_CONNECTIONS"),
    maxConnectionsPerAddress: count("MAX_CONNECTIONS_PER_ADDRESS"),
    maxRememberedIds: count("MAX_REMEMBERED_IDS")
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
