/**
 * The `callstream` command and its subcommands, as the CLI contract in the design describes them:
 *
 * ```sh
 * callstream serve --host H --port P --path /ws --token T --out DIR [--signing-secret whsec_...] [--session-timeout S]
 * callstream serve --redis URL [the flags above but --out]      # a receiver: publishes to Redis instead
 * callstream worker --redis URL --out DIR [--session-timeout S]  # records what receivers publish
 * callstream replay TAPE --url WS_URL [--speed X]
 * callstream demo [--out DIR]
 * callstream inspect TAPE_OR_SESSION_FOLDER
 * ```
 *
 * Every flag of `serve` and `worker` falls back to a `CALLSTREAM_*` environment variable.
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
import * as RedisSettings from "./RedisSettings.js"
import * as Replay from "./Replay.js"
import * as Serve from "./Serve.js"
import * as ServeSettings from "./ServeSettings.js"
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
    redis: redisUrl.pipe(
      Options.withDescription("Publish every event to this Redis instead of recording (a receiver; see worker)"),
      Options.optional
    ),
    partitions,
    redisPrefix
  },
  ({ partitions, redis, redisPrefix, ...raw }) =>
    ServeSettings.resolve({
      ...raw,
      redis: Option.map(redis, (url) => ({ url, partitions, prefix: redisPrefix }))
    }).pipe(Effect.flatMap(Serve.run))
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
    )
  },
  ({ redisPrefix, ...raw }) => Worker.resolve({ ...raw, prefix: redisPrefix }).pipe(Effect.flatMap(Worker.run))
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
  Replay.run
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
  ({ out }) => Demo.run({ out: Option.getOrUndefined(out) })
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
  Inspect.run
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
