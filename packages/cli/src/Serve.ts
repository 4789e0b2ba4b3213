/**
 * `callstream serve`: the websocket server and the session recorder, wired together with a console.
 *
 * It prints a header (the websocket URL to give Recall, with the token when it generated one, the only time that
 * token is shown; how upgrades are authenticated; where the meetings go; the health and metrics URLs), then one
 * line when a meeting starts and one when it ends, with its summary (duration, participants, utterances, seconds of
 * audio, gaps, drops, folder). Warnings and errors always show; connections only at `--log-level debug`. On a
 * terminal a live status line (sessions, connections, messages per second, audio, and drops when any) stays below
 * the log; off a terminal every line is a structured log line (`--log-format logfmt|json`). Ctrl-C shuts down
 * gracefully: connections close with 1001, every accepted event is written, every session ends, and the last line
 * says where the files are.
 *
 * The recorder runs on a thread of its own (`worker_threads`): the main thread accepts connections, answers pings
 * and decodes, and a recorder behind its work never holds those up; it falls behind alone, and the server's buffer
 * policy (paused sockets, then media shed with `Dropped` records) bounds what waits for it. Its logs show here as
 * the others do, and its `callstream_recorder_*` metrics on `/metrics`. How busy each thread is shows there too:
 * `callstream_main_thread_busy_ratio` and `callstream_recorder_thread_busy_ratio` (the busiest recorder thread's),
 * the share of the last second its event loop was busy; a recorder thread near 1 cannot keep up, and the WAVs fall
 * behind the meetings. `--recorder-threads N` spreads the meetings over N recorder threads (by a hash of the session
 * key), for machines with cores to spare, and `--recorder-threads 0` records on the main thread: less memory and CPU
 * (one V8 heap, no event passed between threads), but no room for a slower hour or a burst, and a slow disk holds
 * the sockets up too (see the README's Performance section);
 * `--recorder-heap-mb` sets each one's V8 heap limit (default 1,024 MiB: V8 then collects sooner than under Node's
 * default limit, and the thread's heap stays nearer what it keeps alive). Every heap of the process grows at most
 * 60% past what its last full collection kept before the next (Node's `--heap-growing-percent`, unless given).
 *
 * @since 0.1.0
 */
import { RecallServer } from "@callstream/server"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as ConsoleText from "./internal/consoleText.js"
import * as HeapGrowth from "./internal/heapGrowth.js"
import * as Meetings from "./internal/meetings.js"
import * as NodeFlags from "./internal/nodeFlags.js"
import { serveAndPublish } from "./internal/publishing.js"
import * as RecorderThread from "./internal/recorderThread.js"
import { recordOnMainThread, serveAndRecord } from "./internal/recording.js"
import * as Terminal from "./internal/terminal.js"
import * as ThreadLoad from "./internal/threadLoad.js"
import * as ThreadMessages from "./internal/threadMessages.js"
import * as ServeSettings from "./ServeSettings.js"

/**
 * The server options that follow from checked settings.
 *
 * @since 0.1.0
 * @category settings
 */
export const serverOptions = (settings: ServeSettings.ServeSettings): RecallServer.Options => ({
  host: settings.host,
  port: settings.port,
  path: settings.path,
  tokens: settings.tokens,
  signingSecret: Option.getOrUndefined(settings.signingSecret),
  allowUnauthenticated: settings.authMode === "none",
  sessionTimeout: Duration.seconds(settings.sessionTimeoutSeconds),
  maxMessageBytes: settings.maxMessageBytes,
  ...settings.limits
})

/**
 * The URL to paste into Recall's Create Bot request. A generated token is shown in full (it exists nowhere else);
 * a token the user gave is shown as a placeholder, so it never lands in a log.
 *
 * @since 0.1.0
 * @category settings
 */
export const recallUrl = (url: string, settings: ServeSettings.ServeSettings): string => {
  switch (settings.authMode) {
    case "generated-token":
      return `${url}?token=${encodeURIComponent(Redacted.value(settings.tokens[0]!))}`
    case "token":
    case "both":
      return `${url}?token=<your token>`
    default:
      return url
  }
}

const authOf = (settings: ServeSettings.ServeSettings): string => {
  switch (settings.authMode) {
    case "generated-token":
      return "generated query token (shown once, above); pass --token or CALLSTREAM_TOKEN to choose your own"
    case "token":
      return `query token (${settings.tokens.length} accepted)`
    case "signed":
      return "signed upgrades (webhook-* or svix-* headers)"
    case "both":
      return "query token and signed upgrades"
    case "none":
      return "NONE. Anyone who can reach this port can send events. For local experiments only."
  }
}

const portInUse = (error: RecallServer.RecallServerError): boolean =>
  error.reason === "ListenFailed" && (error.cause as { readonly code?: unknown } | undefined)?.code === "EADDRINUSE"

const httpUrl = (wsUrl: string, path: string): string => {
  const url = new URL(wsUrl)
  url.protocol = url.protocol === "wss:" ? "https:" : "http:"
  url.pathname = path
  url.search = ""
  return url.toString()
}

// the gauge of the recorder's load the status line shows: the busiest recorder thread's, or the main thread's when
// the recorder runs on it; none when workers record
const recorderLoad: Record<NodeFlags.Recording, Metric.Metric.Gauge<number> | undefined> = {
  "threads": ThreadMessages.threadBusy,
  "main thread": ThreadLoad.mainThreadBusy,
  "elsewhere": undefined
}

// what is told when a thread stays saturated (see `ThreadLoad.watch`), by where the recording is made
const spellOf = (seconds: number) => `has been busy all of the last ${seconds} s`
const mainThreadSpell = (recording: NodeFlags.Recording) => ({
  saturated: recording === "main thread"
    ? `The main thread, which also records (--recorder-threads 0), ${spellOf(ThreadLoad.SATURATED_FOR)}: new ` +
      "connections wait for it (it takes in about one per turn of its event loop) and may time out, and the " +
      "recordings fall behind. A recorder thread (the default, --recorder-threads 1) leaves the main thread free " +
      "for connections."
    : `The main thread ${spellOf(ThreadLoad.SATURATED_FOR)}: new connections wait for it (it takes in about one ` +
      "per turn of its event loop) and may time out, and pings are answered late. More meetings than this want " +
      (recording === "elsewhere" ? "another receiver." : "another machine (scale-out, --redis)."),
  recovered: "The main thread has time to spare again."
})
const recorderThreadSpell = {
  saturated: `A recorder thread ${spellOf(ThreadLoad.SATURATED_FOR)}: the recordings fall behind the meetings ` +
    "(the WAVs lag), and the server sheds media once its memory budget is reached. More recorder threads " +
    "(--recorder-threads) on a machine with cores to spare, or scale-out (--redis), take more.",
  recovered: "The recorder threads have time to spare again."
}

// the status line, redrawn every second until interrupted, with the recorder's load if any
const showStatus = (
  server: RecallServer.RecallServer["Type"],
  meetings: Meetings.Meetings,
  recorderLoad: Metric.Metric.Gauge<number> | undefined
) =>
  Effect.gen(function*() {
    const terminal = yield* Terminal.Terminal
    let lastMessages = meetings.messages
    let lastAt = yield* Clock.currentTimeMillis
    return yield* Effect.gen(function*() {
      const health = yield* server.health
      const now = yield* Clock.currentTimeMillis
      const messagesPerSecond = ((meetings.messages - lastMessages) * 1000) / Math.max(1, now - lastAt)
      lastMessages = meetings.messages
      lastAt = now
      yield* terminal.status(ConsoleText.statusLine({
        sessions: health.sessions,
        connections: health.connections,
        paused: health.paused,
        messagesPerSecond,
        audioSeconds: meetings.audioSeconds,
        drops: meetings.drops,
        recorderBusy: recorderLoad === undefined ? undefined : (yield* Metric.value(recorderLoad)).value
      }))
    }).pipe(Effect.repeat(Schedule.spaced("1 second")))
  })

/**
 * Serves until interrupted (Ctrl-C, SIGTERM), recording every session into `settings.out` (with `--redis`,
 * publishing them), and tells the console (the `Terminal` the command provides) what happens.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  settings: ServeSettings.ServeSettings,
  telemetry?: {
    /** The OTLP endpoint the recorder thread sends its spans to (see `Telemetry`). */
    readonly otel?: string | undefined
    readonly serviceName?: string | undefined
  }
): Effect.Effect<
  void,
  RecallServer.RecallServerError | ServeSettings.SettingsError | RecorderThread.RecorderThreadError,
  FileSystem.FileSystem | Path.Path | Terminal.Terminal
> =>
  Effect.gen(function*() {
    yield* HeapGrowth.limit
    const terminal = yield* Terminal.Terminal
    const path = yield* Path.Path
    const meetings = new Meetings.Meetings()
    // with --redis, a receiver: the events go to Redis, and workers record them
    const where = Option.match(settings.redis, {
      onNone: () => ConsoleText.filesIn(path, settings.out),
      onSome: (redis) => () => `published to Redis at ${redis.where}`
    })
    const observe = ConsoleText.announce(meetings, where)
    // where the sessions are recorded: on recorder threads, on this thread, or by workers reading Redis
    const recording: NodeFlags.Recording = Option.isSome(settings.redis)
      ? "elsewhere"
      : settings.recorderThreads === 0
      ? "main thread"
      : "threads"
    const { broken, server, stop } = yield* Effect.suspend(() =>
      Option.isSome(settings.redis)
        ? serveAndPublish(serverOptions(settings), settings.redis.value, observe)
        : serveAndRecord(serverOptions(settings), (events) =>
          recording === "main thread" ? recordOnMainThread(events, settings.out) : RecorderThread.record(events, {
            threads: settings.recorderThreads,
            heapLimitMb: settings.recorderHeapMb,
            directory: settings.out,
            logLevel: terminal.level,
            otel: telemetry?.otel,
            serviceName: telemetry?.serviceName ?? "callstream-serve"
          }), observe)
    ).pipe(
      Effect.mapError((error) =>
        error._tag === "RecallServerError" && portInUse(error) ?
          new ServeSettings.SettingsError({
            reason: "PortInUse",
            message:
              `--port ${settings.port} on ${settings.host} is already in use: choose another (0 picks a free one)`
          }) :
          error
      )
    )

    const header: ConsoleText.Header = {
      url: recallUrl(server.address.url, settings),
      auth: authOf(settings),
      destination: Option.match(settings.redis, {
        onNone: () => `recording into ${settings.out}${recording === "main thread" ? " (on the main thread)" : ""}`,
        onSome: (redis) => `publishing to Redis at ${redis.where} (${redis.partitions} partitions)`
      }),
      health: httpUrl(server.address.url, "/healthz"),
      metrics: httpUrl(server.address.url, "/metrics"),
      limits: ServeSettings.limitNames.flatMap((name) => {
        const value = settings.limits[name]
        return value === undefined ? [] : [[ServeSettings.flagOf(name), value] as const]
      }),
      level: terminal.level,
      tip: NodeFlags.tip(NodeFlags.facts(recording))
    }
    yield* terminal.announce(ConsoleText.header(header), "listening", ConsoleText.headerFields(header))
    const status = terminal.hasStatus
      ? yield* Effect.forkDaemon(showStatus(server, meetings, recorderLoad[recording]))
      : undefined
    const load = yield* Effect.forkDaemon(Effect.all([
      ThreadLoad.report(ThreadLoad.mainThreadBusy),
      ThreadLoad.watch(ThreadLoad.mainThreadBusy, "main", mainThreadSpell(recording)),
      recording === "threads"
        ? ThreadLoad.watch(ThreadMessages.threadBusy, "recorder", recorderThreadSpell)
        : Effect.never
    ], { concurrency: "unbounded", discard: true }))
    // the fibers that show how the server is doing stop before the last lines are written
    const stopShowing = Effect.zipRight(
      Fiber.interruptAll(status === undefined ? [load] : [load, status]),
      terminal.clearStatus
    )

    yield* broken.pipe(
      // the recorder stopped: nothing more can be recorded, so the server stops too, and the process exits with it
      Effect.catchAll((error) =>
        Effect.gen(function*() {
          yield* stopShowing
          yield* stop
          return yield* Effect.fail(error)
        })
      ),
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          yield* stopShowing
          yield* terminal.announce("shutting down: closing connections and finishing every file...", "shutting down")
          yield* stop
          const where = Option.isSome(settings.redis) ? "Every event is in Redis" : `Recordings are in ${settings.out}`
          yield* terminal.announce(
            `stopped after ${meetings.messages} messages (${
              meetings.audioSeconds.toFixed(1)
            } s of mixed audio). ${where}`,
            "stopped",
            { messages: meetings.messages, audio_s: Math.round(meetings.audioSeconds * 10) / 10, where }
          )
        })
      )
    )
  })
