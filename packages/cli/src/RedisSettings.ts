/**
 * The Redis settings that `callstream serve --redis` (a receiver) and `callstream worker` share: the URL, checked
 * before anything starts and never shown with its credentials, the number of partitions every receiver and worker
 * must agree on, and the connection, whose failure at start is one line naming the host.
 *
 * @since 0.2.0
 */
import * as EventLog from "@callstream/redis/EventLog"
import * as Publisher from "@callstream/redis/Publisher"
import * as RedisEventLog from "@callstream/redis/RedisEventLog"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { SettingsError } from "./internal/settingsError.js"

/**
 * Checked Redis settings.
 *
 * @since 0.2.0
 * @category models
 */
export interface RedisSettings {
  /** The URL as given, credentials included: only ever handed to the client. */
  readonly url: Redacted.Redacted<string>
  /** `host:port`, for messages. */
  readonly where: string
  /** How many partitions the deployment has. */
  readonly partitions: number
  /** The prefix of every key. */
  readonly prefix: string
}

/**
 * What the flags and environment gave, before checking.
 *
 * @since 0.2.0
 * @category models
 */
export interface RawRedisSettings {
  readonly url: Redacted.Redacted<string>
  readonly partitions: number
  readonly prefix: string
}

/**
 * `host:port` of a Redis URL (6379 when the URL names no port), or `undefined` when the text is not a `redis://`
 * or `rediss://` URL with a host.
 *
 * @since 0.2.0
 * @category validation
 */
export const whereOf = (url: string): string | undefined => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  if ((parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") || parsed.hostname === "") return undefined
  return `${parsed.hostname}:${parsed.port === "" ? "6379" : parsed.port}`
}

/**
 * Checks raw settings: the URL's form (the message never repeats the URL, which may hold a password), a whole
 * number of partitions from 1 to 1024, and a prefix.
 *
 * @since 0.2.0
 * @category validation
 */
export const resolve = (raw: RawRedisSettings): Effect.Effect<RedisSettings, SettingsError> =>
  Effect.suspend(() => {
    const where = whereOf(Redacted.value(raw.url).trim())
    if (where === undefined) {
      return Effect.fail(
        new SettingsError({
          reason: "InvalidRedisUrl",
          message: "--redis must be a URL like redis://[user:password@]host[:port][/db] (or rediss:// for TLS)"
        })
      )
    }
    if (!Number.isInteger(raw.partitions) || raw.partitions < 1 || raw.partitions > 1024) {
      return Effect.fail(
        new SettingsError({
          reason: "InvalidNumber",
          message: `--partitions must be a whole number from 1 to 1024, got ${raw.partitions}`
        })
      )
    }
    return Effect.succeed({
      url: Redacted.make(Redacted.value(raw.url).trim()),
      where,
      partitions: raw.partitions,
      prefix: raw.prefix
    })
  })

/**
 * The default number of partitions, as the transport's.
 *
 * @since 0.2.0
 * @category constants
 */
export const DEFAULT_PARTITIONS = Publisher.DEFAULT_PARTITIONS

// the client's message, with anything of the URL's credentials taken out should it ever appear there
const scrubbed = (message: string, settings: RedisSettings): string => {
  let url: URL
  try {
    url = new URL(Redacted.value(settings.url))
  } catch {
    return message
  }
  let decoded = url.password
  try {
    decoded = decodeURIComponent(url.password)
  } catch {
    // not percent-encoded text: as given
  }
  let out = message
  for (const secret of [url.password, decoded]) {
    if (secret !== "") out = out.split(secret).join("***")
  }
  return out
}

/**
 * Connects to Redis in the current Scope. A server that cannot be reached, or that refuses the credentials, is a
 * `SettingsError` whose message names the host and port, never the password.
 *
 * @since 0.2.0
 * @category constructors
 */
export const connect = (
  settings: RedisSettings
): Effect.Effect<EventLog.EventLog, SettingsError, Scope.Scope> =>
  RedisEventLog.make({ url: settings.url, prefix: settings.prefix }).pipe(
    Effect.mapError((error) => {
      const cause = (error.cause instanceof Error ? error.cause.message : String(error.cause))
        .replace(`Redis at ${settings.where}: `, "")
      return new SettingsError({
        reason: "RedisUnreachable",
        message: `--redis: cannot connect to Redis at ${settings.where} (${scrubbed(cause, settings)})`
      })
    })
  )
