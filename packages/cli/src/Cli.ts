/**
 * The `callstream` command and its subcommands, as the CLI contract in the design describes them:
 *
 * ```sh
 * callstream serve --host H --port P --path /ws --token T --out DIR [--signing-secret whsec_...] [--session-timeout S]
 * callstream serve --redis URL [the flags above but --out]      # a receiver: publishes to Redis instead
 * callstream worker --redis URL --out DIR [--session-timeout S] [--metrics-port N]  # records what receivers publish
 * callstream replay TAPE --url WS_URL [--speed X]
 * callstream demo [--out DIR]
 * callstream inspect TAPE_OR_SESSION_FOLDER
 * ```
 *
 * Every flag of `serve` and `worker` falls back to a `CALLSTREAM_*` environment variable (`--otel` to
 * `OTEL_EXPORTER_OTLP_ENDPOINT`). Both take `--log-level debug|info|warning|error` and
 * `--log-format pretty|logfmt|json`: on a terminal, `pretty` with a live status line; elsewhere `logfmt`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Demo from "./Demo.js"
import * as Inspect from "./Inspect.js"
import * as LogFormat from "./internal/logFormat.js"
import * as RecorderThread from "./internal/recorderThread.js"
import { SettingsError } from "./internal/settingsError.js"
import * as Terminal from "./internal/terminal.js"
import * as RedisSettings from "./RedisSettings.js"
import * as Replay from "./Replay.js"
import * as Serve from "./Serve.js"
import * as ServeSettings from "./ServeSettings.js"
import * as Telemetry from "./Telemetry.js"
import * as Worker from "./Worker.js"

const host = Options.text("host").pipe(
  Options.withDescription("Address to listen on (env CALLSTREAM_HOST)"),
  Options.withFallbackConfig(Config.string("CALLSTREAM_HOST")),
  Options.withDefault("127.0.0.1")
)

const port = Options.integer("port").pipe(
  Options.withDescription("Port to listen on, 0 for any free port (env CALLSTREAM_PORT)"),
  Options.withFallbackConfig(Config.integer("CALLSTREAM_PORT")),
  Options.withDefault(8787)
)

const path = Options.text("path").pipe(
  Options.withDescription("Websocket path; upgrades on any other path get 404 (env CALLSTREAM_PATH)"),
  Options.withFallbackConfig(Config.string("CALLSTREAM_PATH")),
  Options.withDefault("/ws")
)

const token = Options.redacted("token").pipe(
  Options.withDescription(
    "Query token Recall must send as ?token=...; comma-separate several to rotate (env CALLSTREAM_TOKEN)"
  ),
  Options.withFallbackConfig(Config.redacted("CALLSTREAM_TOKEN")),
  Options.optional
)

const signingSecret = Options.redacted("signing-secret").pipe(
  Options.withDescription(
    "Recall's verification secret whsec_...: require signed upgrades (env CALLSTREAM_SIGNING_SECRET)"
  ),
  Options.withFallbackConfig(Config.redacted("CALLSTREAM_SIGNING_SECRET")),
  Options.optional
)

const allowUnauthenticated = Options.boolean("allow-unauthenticated").pipe(
  Options.withDescription("Accept any connection: for local experiments only (env CALLSTREAM_ALLOW_UNAUTHENTICATED)"),
  Options.withFallbackConfig(Config.withDefault(Config.boolean("CALLSTREAM_ALLOW_UNAUTHENTICATED"), false))
)

// a plain text option: ServeSettings checks the folder itself, with a message that says what is wrong
const out = Options.text("out").pipe(
  Options.withDescription("Folder that receives one sub-folder per meeting (env CALLSTREAM_OUT)"),
  Options.withFallbackConfig(Config.string("CALLSTREAM_OUT")),
  Options.withDefault("recordings")
)

const sessionTimeout = Options.float("session-timeout").pipe(
  Options.withDescription(
    "Seconds a meeting waits for a reconnect after its last connection closed (default 95, longer than Recall's 30 x 3 s retries)"
  ),
  Options.withFallbackConfig(Config.number("CALLSTREAM_SESSION_TIMEOUT")),
  Options.withDefault(95)
)

const maxMessageBytes = Options.integer("max-message-bytes").pipe(
  Options.withDescription("Largest frame accepted; a larger one closes its connection with 1009 (default 16 MiB)"),
  Options.withFallbackConfig(Config.integer("CALLSTREAM_MAX_MESSAGE_BYTES")),
  Options.withDefault(16 * 1024 * 1024)
)

const recorderThreads = Options.integer("recorder-threads").pipe(
  Options.withDescription(
    "Threads that record, each taking whole meetings; more use more cores, 0 records on the main thread: less memory and CPU, no headroom (default 1; env CALLSTREAM_RECORDER_THREADS)"
  ),
  Options.withFallbackConfig(Config.integer("CALLSTREAM_RECORDER_THREADS")),
  Options.withDefault(1)
)

const recorderHeapMb = Options.integer("recorder-heap-mb").pipe(
  Options.withDescription(
    `V8 heap limit of each recorder thread in MiB: lower holds less memory, collecting more often (default ${RecorderThread.DEFAULT_HEAP_LIMIT_MB}; not with --recorder-threads 0 or --redis; env CALLSTREAM_RECORDER_HEAP_MB)`
  ),
  Options.withFallbackConfig(Config.integer("CALLSTREAM_RECORDER_HEAP_MB")),
  // left out, it is the default; given where no recorder thread runs (--recorder-threads 0, --redis), it is refused
  Options.optional
)

const redisUrl = Options.redacted("redis").pipe(
  Options.withDescription(
    "Redis URL, redis://[user:password@]host[:port][/db] (or rediss://); never printed (env CALLSTREAM_REDIS)"
  ),
  Options.withFallbackConfig(Config.redacted("CALLSTREAM_REDIS"))
)

const partitions = Options.integer("partitions").pipe(
  Options.withDescription(
    "Partitions of the Redis log; every receiver and worker must use the same number (env CALLSTREAM_REDIS_PARTITIONS)"
  ),
  Options.withFallbackConfig(Config.integer("CALLSTREAM_REDIS_PARTITIONS")),
  Options.withDefault(RedisSettings.DEFAULT_PARTITIONS)
)

const redisPrefix = Options.text("redis-prefix").pipe(
  Options.withDescription(
    "Prefix of every Redis key, to share one Redis between deployments (env CALLSTREAM_REDIS_PREFIX)"
  ),
  Options.withFallbackConfig(Config.string("CALLSTREAM_REDIS_PREFIX")),
  Options.withDefault("callstream:")
)

const limitDescriptions: { readonly [K in ServeSettings.LimitName]: string } = {
  maxConnections: "Open websocket connections; one more upgrade is answered 503, which Recall retries (default 10000)",
  maxConnectionsPerAddress: "Open connections from one remote address (default: --max-connections)",
  maxSessions: "Meetings open at once; a frame that would start one more is refused (default 10000)",
  maxSessionsPerConnection: "Meetings one connection may feed (default 16)",
  bufferSize:
    "Events a meeting buffers for the recorder; past it media is shed (with a Dropped record) and sockets pause (default 1024)",
  bufferBytes: "Bytes of frames a meeting buffers for the recorder, with the same policy (default 16 MiB)",
  memoryBudget:
    "Bytes of frames all meetings together buffer, past which the policy applies to all (default an eighth of the heap limit)"
}

// one flag per server limit, named as RecallServer's option and read from the variable RecallServer.layerConfig reads
const limits = Object.fromEntries(ServeSettings.limitNames.map((name) => [
  name,
  Options.integer(ServeSettings.flagOf(name)).pipe(
    Options.withDescription(`${limitDescriptions[name]} (env ${ServeSettings.variableOf(name)})`),
    Options.withFallbackConfig(Config.integer(ServeSettings.variableOf(name))),
    Options.optional
  )
])) as { readonly [K in ServeSettings.LimitName]: Options.Options<Option.Option<number>> }

const logLevel = Options.choice("log-level", LogFormat.levels).pipe(
  Options.withDescription(
    "info shows meetings, warnings and errors; debug adds every connection (env CALLSTREAM_LOG_LEVEL)"
  ),
  Options.withFallbackConfig(Config.literal(...LogFormat.levels)("CALLSTREAM_LOG_LEVEL")),
  Options.withDefault("info" as const)
)

const logFormat = Options.choice("log-format", LogFormat.formats).pipe(
  Options.withDescription(
    "pretty (the default on a terminal, with a live status line), logfmt (the default otherwise) or json, one line per event (env CALLSTREAM_LOG_FORMAT)"
  ),
  Options.withFallbackConfig(Config.literal(...LogFormat.formats)("CALLSTREAM_LOG_FORMAT")),
  Options.optional
)

const otel = Options.text("otel").pipe(
  Options.withDescription(
    "Send traces over OTLP/HTTP to this endpoint, e.g. http://localhost:4318 (env OTEL_EXPORTER_OTLP_ENDPOINT)"
  ),
  Options.withFallbackConfig(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT")),
  Options.optional
)

/** What `serve` and `worker` take beside their own settings: the console and the traces. */
const consoleOptions = { logLevel, logFormat, otel }

/**
 * Runs a command's program with its console (`Terminal`, the logger) and, given an endpoint, its traces. An
 * endpoint that is not an http(s) URL is a `SettingsError`.
 */
const withConsole = (
  options: {
    readonly logLevel: LogFormat.Level
    readonly logFormat: Option.Option<LogFormat.Format>
    readonly otel: Option.Option<string>
  },
  serviceName: string
) =>
<A, E, R>(program: Effect.Effect<A, E, R>): Effect.Effect<A, E | SettingsError, Exclude<R, Terminal.Terminal>> =>
  Option.isSome(options.otel) && Telemetry.tracesUrl(options.otel.value) === undefined
    ? Effect.fail(
      new SettingsError({
        reason: "InvalidUrl",
        message: "--otel (or OTEL_EXPORTER_OTLP_ENDPOINT) must be an http:// or https:// URL"
      })
    )
    : program.pipe(
      Effect.provide(Terminal.layer({
        output: Terminal.stdout(),
        level: options.logLevel,
        format: Option.getOrUndefined(options.logFormat)
      })),
      Effect.provide(Telemetry.layer({ endpoint: options.otel, serviceName }))
    )

// the other commands log little: at info, in the format that suits where the output goes
const withDefaultConsole = Effect.provide(Terminal.layer({ output: Terminal.stdout(), level: "info" }))

/**
 * `callstream serve`: receive Recall bots and record every meeting into a folder, or with `--redis` publish every
 * meeting to Redis for workers to record.
 *
 * @since 0.1.0
 * @category commands
 */
export const serve = Command.make(
  "serve",
  {
    host,
    port,
    path,
    token,
    signingSecret,
    allowUnauthenticated,
    out,
    sessionTimeout,
    maxMessageBytes,
    recorderThreads,
    recorderHeapMb,
    redis: redisUrl.pipe(
      Options.withDescription("Publish every event to this Redis instead of recording (a receiver; see worker)"),
      Options.optional
    ),
    partitions,
    redisPrefix,
    limits,
    ...consoleOptions
  },
  ({ logFormat, logLevel, otel, partitions, recorderHeapMb, redis, redisPrefix, ...raw }) =>
    ServeSettings.resolve({
      ...raw,
      recorderHeapMb: Option.getOrUndefined(recorderHeapMb),
      redis: Option.map(redis, (url) => ({ url, partitions, prefix: redisPrefix }))
    }).pipe(
      Effect.flatMap((settings) =>
        Serve.run(settings, { otel: Option.getOrUndefined(otel), serviceName: "callstream-serve" })
      ),
      withConsole({ logFormat, logLevel, otel }, "callstream-serve")
    )
).pipe(
  Command.withDescription(
    "Receive Recall.ai real-time events and record every meeting into --out (with --redis: publish them to Redis)"
  )
)

/**
 * `callstream worker`: record the meetings receivers publish to Redis into a folder, exactly as `serve` would.
 *
 * @since 0.2.0
 * @category commands
 */
export const worker = Command.make(
  "worker",
  {
    redis: redisUrl,
    partitions,
    redisPrefix,
    out,
    sessionTimeout,
    leaseTtl: Options.float("lease-ttl").pipe(
      Options.withDescription(
        "Seconds a dead worker's partitions wait before another worker takes them over (env CALLSTREAM_LEASE_TTL)"
      ),
      Options.withFallbackConfig(Config.number("CALLSTREAM_LEASE_TTL")),
      Options.withDefault(10)
    ),
    maxPartitions: Options.integer("max-partitions").pipe(
      Options.withDescription(
        "Most partitions this worker records at once; the workers share the rest (env CALLSTREAM_MAX_PARTITIONS; default all)"
      ),
      Options.withFallbackConfig(Config.integer("CALLSTREAM_MAX_PARTITIONS")),
      Options.optional
    ),
    metricsPort: Options.integer("metrics-port").pipe(
      Options.withDescription(
        "Answer GET /metrics and /healthz on this port, 0 for any free one; off unless given (env CALLSTREAM_METRICS_PORT)"
      ),
      Options.withFallbackConfig(Config.integer("CALLSTREAM_METRICS_PORT")),
      Options.optional
    ),
    metricsHost: Options.text("metrics-host").pipe(
      Options.withDescription(
        "Address the metrics port listens on (default 127.0.0.1; 0.0.0.0 for every interface; env CALLSTREAM_METRICS_HOST)"
      ),
      Options.withFallbackConfig(Config.string("CALLSTREAM_METRICS_HOST")),
      Options.withDefault("127.0.0.1")
    ),
    ...consoleOptions
  },
  ({ logFormat, logLevel, otel, redisPrefix, ...raw }) =>
    Worker.resolve({ ...raw, prefix: redisPrefix }).pipe(
      Effect.flatMap(Worker.run),
      withConsole({ logFormat, logLevel, otel }, "callstream-worker")
    )
).pipe(
  Command.withDescription(
    "Record the meetings that `serve --redis` receivers publish into --out, the folders serve writes; workers share the work"
  )
)

/**
 * `callstream replay`: play a tape to a websocket URL the way Recall would.
 *
 * @since 0.1.0
 * @category commands
 */
export const replay = Command.make(
  "replay",
  {
    tape: Args.file({ name: "TAPE", exists: "yes" }).pipe(Args.withDescription("A tape (.jsonl) to play")),
    url: Options.text("url").pipe(Options.withDescription("The ws:// URL to play it to, with its ?token= if any")),
    speed: Options.float("speed").pipe(
      Options.withDescription("1 plays in real time, 10 ten times faster, 0 as fast as possible"),
      Options.withDefault(1)
    ),
    signingSecret: Options.redacted("signing-secret").pipe(
      Options.withDescription("Sign each upgrade with this whsec_ secret, as Recall does"),
      Options.optional
    )
  },
  (options) => Replay.run(options).pipe(withDefaultConsole)
).pipe(Command.withDescription("Replay a tape to a websocket URL like Recall does (retries 30 x 3 s)"))

/**
 * `callstream demo`: serve, replay a generated sample meeting into itself, and show what was recorded.
 *
 * @since 0.1.0
 * @category commands
 */
export const demo = Command.make(
  "demo",
  {
    out: Options.text("out").pipe(
      Options.withDescription("Where to write the demo recording (default: a new temporary folder)"),
      Options.optional
    )
  },
  ({ out }) => Demo.run({ out: Option.getOrUndefined(out) }).pipe(withDefaultConsole)
).pipe(Command.withDescription("Record a generated sample meeting through the real server and summarise it"))

/**
 * `callstream inspect`: summarise a tape or a recorded session folder.
 *
 * @since 0.1.0
 * @category commands
 */
export const inspect = Command.make(
  "inspect",
  {
    target: Args.path({ name: "TAPE_OR_FOLDER", exists: "yes" }).pipe(
      Args.withDescription("A tape (.jsonl) or a session folder written by serve")
    ),
    json: Options.boolean("json").pipe(Options.withDescription("Print the summary as JSON"))
  },
  (options) => Inspect.run(options).pipe(withDefaultConsole)
).pipe(Command.withDescription("Summarise a tape or a session folder: participants, talk time, audio, gaps, drops"))

/**
 * The root command.
 *
 * @since 0.1.0
 * @category commands
 */
export const callstream = Command.make("callstream").pipe(
  Command.withDescription("Receive and record Recall.ai real-time meeting events"),
  Command.withSubcommands([serve, worker, replay, demo, inspect])
)

/**
 * Runs the CLI on the given argv (as `process.argv`).
 *
 * @since 0.1.0
 * @category running
 */
export const run = Command.run(callstream, { name: "callstream", version: "0.1.0" })
