/**
 * `callstream serve`: the websocket server and the session recorder, wired together with a console.
 *
 * It prints the websocket URL to give Recall (with the token when it generated one, the only time that token is
 * shown), a line whenever a meeting starts or ends, and on a terminal a live status line. Ctrl-C shuts down
 * gracefully: connections close with 1001, every accepted event is written, every session ends, and the last line
 * says where the files are.
 *
 * @since 0.1.0
 */
import { Audio, Printable, type SessionEvent } from "@callstream/core"
import { RecallServer } from "@callstream/server"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Chunk from "effect/Chunk"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { serveAndPublish } from "./internal/publishing.js"
import { serveAndRecord } from "./internal/recording.js"
import * as ServeSettings from "./ServeSettings.js"

/**
 * Counters the console shows, updated as events flow to the recorder.
 *
 * @since 0.1.0
 * @category models
 */
export interface Activity {
  messages: number
  audioSeconds: number
}

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
  maxMessageBytes: settings.maxMessageBytes
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

const authLine = (settings: ServeSettings.ServeSettings): string => {
  switch (settings.authMode) {
    case "generated-token":
      return "auth: generated query token (shown once, above); pass --token or CALLSTREAM_TOKEN to choose your own"
    case "token":
      return `auth: query token (${settings.tokens.length} accepted)`
    case "signed":
      return "auth: signed upgrades (webhook-* or svix-* headers)"
    case "both":
      return "auth: query token and signed upgrades"
    case "none":
      return "auth: NONE. Anyone who can reach this port can send events. For local experiments only."
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

// counts every event of a chunk in place; only a meeting's start or end costs an Effect (its log line)
const observe = (activity: Activity, destination: string) => (items: Chunk.Chunk<SessionEvent.SessionEvent>) => {
  const logs: Array<Effect.Effect<void>> = []
  for (const item of items) {
    switch (item._tag) {
      case "Message":
        activity.messages++
        if (item.event.event === "audio_mixed_raw.data") activity.audioSeconds += Audio.durationOf(item.event)
        break
      case "SessionStarted":
        logs.push(
          Effect.logInfo(`meeting started: ${Printable.text(item.session)}`).pipe(
            Effect.annotateLogs({
              session: Printable.text(item.session),
              bot: Printable.text(item.botId ?? "none"),
              recording: Printable.text(item.recordingId ?? "none")
            })
          )
        )
        break
      case "SessionEnded":
        logs.push(
          Effect.logInfo(`meeting ended (${item.reason}): ${Printable.text(item.session)}, ${destination}`).pipe(
            Effect.annotateLogs({ session: Printable.text(item.session), reason: item.reason })
          )
        )
        break
    }
  }
  return logs.length === 0 ? Effect.void : Effect.all(logs, { discard: true })
}

const statusLine = (server: RecallServer.RecallServer["Type"], activity: Activity) =>
  Effect.gen(function*() {
    let lastMessages = 0
    let lastAt = Date.now()
    return yield* Effect.gen(function*() {
      const health = yield* server.health
      const now = Date.now()
      const rate = ((activity.messages - lastMessages) * 1000) / Math.max(1, now - lastAt)
      lastMessages = activity.messages
      lastAt = now
      process.stdout.write(
        `\r\x1b[2Ksessions ${health.sessions}  connections ${health.connections}  ` +
          `messages/s ${rate.toFixed(0)}  audio ${activity.audioSeconds.toFixed(1)} s`
      )
    }).pipe(Effect.repeat(Schedule.spaced("1 second")))
  })

/**
 * Serves until interrupted (Ctrl-C), recording every session into `settings.out`.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  settings: ServeSettings.ServeSettings
): Effect.Effect<
  void,
  RecallServer.RecallServerError | ServeSettings.SettingsError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const activity: Activity = { messages: 0, audioSeconds: 0 }
    // with --redis, a receiver: the events go to Redis, and workers record them
    const destination = Option.match(settings.redis, {
      onNone: () => `files in ${settings.out}`,
      onSome: (redis) => `published to Redis at ${redis.where}`
    })
    const { server, stop } = yield* Effect.suspend(() =>
      Option.isSome(settings.redis)
        ? serveAndPublish(serverOptions(settings), settings.redis.value, observe(activity, destination))
        : serveAndRecord(serverOptions(settings), settings.out, observe(activity, destination))
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

    yield* Console.log(
      `callstream is listening. Give Recall this websocket URL:\n\n  ${recallUrl(server.address.url, settings)}\n\n${
        authLine(settings)
      }\n${
        Option.isSome(settings.redis)
          ? `publishing to Redis at ${settings.redis.value.where} (${settings.redis.value.partitions} partitions)`
          : `recording into ${settings.out}`
      }\nhealth: GET ${httpUrl(server.address.url, "/healthz")}, metrics: GET ${
        httpUrl(server.address.url, "/metrics")
      }\n`
    )

    const status = process.stdout.isTTY ? yield* Effect.forkDaemon(statusLine(server, activity)) : undefined

    yield* Effect.never.pipe(
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          if (status !== undefined) {
            yield* Fiber.interrupt(status)
            process.stdout.write("\r\x1b[2K")
          }
          yield* Console.log("shutting down: closing connections and finishing every file...")
          yield* stop
          yield* Console.log(
            `stopped after ${activity.messages} messages (${activity.audioSeconds.toFixed(1)} s of mixed audio). ` +
              (Option.isSome(settings.redis) ? "Every event is in Redis" : `Recordings are in ${settings.out}`)
          )
        })
      )
    )
  })
