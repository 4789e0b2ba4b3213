/**
 * The settings of `callstream serve`, checked before anything starts: flags first, `CALLSTREAM_*` environment
 * variables as the fallback, then the rules of the CLI contract (which authentication mode follows from which
 * secrets, what a signing secret looks like, where files go, with `--redis` which Redis receives the events
 * instead of a folder, and the server's limits: `--max-connections` and its kin, whole numbers of at least 1).
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"
import * as RecorderThread from "./internal/recorderThread.js"
import { SettingsError } from "./internal/settingsError.js"
import * as RedisSettings from "./RedisSettings.js"

export {
  /**
   * A setting that cannot work, with a message a person can act on.
   *
   * @since 0.1.0
   * @category errors
   */
  SettingsError
}

/**
 * How upgrades are authenticated.
 *
 * - `token`: the query token must match (one of) the given tokens.
 * - `signed`: the upgrade must carry a valid Standard Webhooks signature.
 * - `both`: both of the above.
 * - `generated-token`: neither was given, so a token was generated; the full URL is printed once.
 * - `none`: `--allow-unauthenticated`, for local experiments only.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthMode = "token" | "signed" | "both" | "generated-token" | "none"

/**
 * The server limits `serve` passes on, named as `RecallServer`'s options, so a setting has one name everywhere:
 * `maxConnections` is the flag `--max-connections` and the variable `CALLSTREAM_MAX_CONNECTIONS`, as
 * `RecallServer.layerConfig` reads it.
 *
 * @since 0.2.0
 * @category limits
 */
export const limitNames = [
  "maxConnections",
  "maxConnectionsPerAddress",
  "maxSessions",
  "maxSessionsPerConnection",
  "bufferSize",
  "bufferBytes",
  "memoryBudget"
] as const

/**
 * @since 0.2.0
 * @category limits
 */
export type LimitName = typeof limitNames[number]

/**
 * The limits given, each a whole number of at least 1; one left out keeps the server's default.
 *
 * @since 0.2.0
 * @category limits
 */
export type Limits = { readonly [K in LimitName]?: number | undefined }

/**
 * The flag of a limit, without its dashes: `maxConnections` is `max-connections`.
 *
 * @since 0.2.0
 * @category limits
 */
export const flagOf = (name: LimitName): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/**
 * The environment variable of a limit: `maxConnections` is `CALLSTREAM_MAX_CONNECTIONS`.
 *
 * @since 0.2.0
 * @category limits
 */
export const variableOf = (name: LimitName): string => `CALLSTREAM_${flagOf(name).replace(/-/g, "_").toUpperCase()}`

/**
 * @since 0.1.0
 * @category models
 */
export interface ServeSettings {
  readonly host: string
  readonly port: number
  readonly path: string
  readonly tokens: ReadonlyArray<Redacted.Redacted<string>>
  readonly signingSecret: Option.Option<Redacted.Redacted<string>>
  readonly authMode: AuthMode
  readonly out: string
  readonly sessionTimeoutSeconds: number
  readonly maxMessageBytes: number
  /**
   * Threads that record (`--recorder-threads`), each taking whole meetings; 0 records on the main thread.
   *
   * @since 0.2.0
   */
  readonly recorderThreads: number
  /**
   * The V8 heap limit of each recorder thread in MiB (`--recorder-heap-mb`): a lower limit makes V8 collect sooner
   * and hold less memory, at some CPU.
   *
   * @since 0.2.0
   */
  readonly recorderHeapMb: number
  /**
   * Where a receiver publishes instead of recording (`--redis`); `None` records into `out`.
   *
   * @since 0.2.0
   */
  readonly redis: Option.Option<RedisSettings.RedisSettings>
  /**
   * The server limits given; the others keep the server's defaults.
   *
   * @since 0.2.0
   */
  readonly limits: Limits
}

/**
 * What the flags and environment gave, before checking.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawSettings {
  readonly host: string
  readonly port: number
  readonly path: string
  readonly token: Option.Option<Redacted.Redacted<string>>
  readonly signingSecret: Option.Option<Redacted.Redacted<string>>
  readonly allowUnauthenticated: boolean
  readonly out: string
  readonly sessionTimeout: number
  readonly maxMessageBytes: number
  /**
   * `--recorder-threads`; default 1, and 0 records on the main thread.
   *
   * @since 0.2.0
   */
  readonly recorderThreads?: number | undefined
  /**
   * `--recorder-heap-mb`; default 1,024. Refused with `--recorder-threads 0` or `--redis`, where no recorder thread
   * runs.
   *
   * @since 0.2.0
   */
  readonly recorderHeapMb?: number | undefined
  /**
   * `--redis` and its companions: given, the server publishes to Redis and `out` is not used.
   *
   * @since 0.2.0
   */
  readonly redis?: Option.Option<RedisSettings.RawRedisSettings> | undefined
  /**
   * `--max-connections` and the other limits, each given or not.
   *
   * @since 0.2.0
   */
  readonly limits?: { readonly [K in LimitName]?: Option.Option<number> } | undefined
}

const WHSEC = /^whsec_[A-Za-z0-9+/]+={0,2}$/

/**
 * Whether a signing secret has the `whsec_<base64 key>` form Recall gives.
 *
 * @since 0.1.0
 * @category validation
 */
export const isSigningSecret = (secret: string): boolean =>
  WHSEC.test(secret) && Buffer.from(secret.slice(6), "base64").byteLength >= 16

/**
 * A fresh random token (32 bytes, base64url), for when neither a token nor a signing secret was given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generateToken = (): Redacted.Redacted<string> =>
  Redacted.make(Crypto.randomBytes(32).toString("base64url"))

const fail = (reason: SettingsError["reason"], message: string) => Effect.fail(new SettingsError({ reason, message }))

/** More recorder threads than this is a mistake, not a machine. */
const MAX_RECORDER_THREADS = 64

/** Below this a recorder thread has no room for a meeting's state beside its own code. */
const MIN_RECORDER_HEAP_MB = 64

/**
 * Checks raw settings and resolves the authentication mode. The output folder is created if missing and must be
 * writable. Tokens may be given comma-separated, to accept several while rotating.
 *
 * @since 0.1.0
 * @category validation
 */
export const resolve = (
  raw: RawSettings
): Effect.Effect<ServeSettings, SettingsError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    if (!Number.isInteger(raw.port) || raw.port < 0 || raw.port > 65535) {
      return yield* fail("InvalidPort", `--port must be a whole number from 0 to 65535, got ${raw.port}`)
    }
    if (!raw.path.startsWith("/")) {
      return yield* fail("InvalidPath", `--path must start with "/", got "${raw.path}"`)
    }
    if (!(raw.sessionTimeout > 0)) {
      return yield* fail("InvalidNumber", `--session-timeout must be a positive number of seconds`)
    }
    if (!Number.isInteger(raw.maxMessageBytes) || raw.maxMessageBytes < 1024) {
      return yield* fail("InvalidNumber", `--max-message-bytes must be a whole number of at least 1024`)
    }
    const recorderThreads = raw.recorderThreads ?? 1
    if (!Number.isInteger(recorderThreads) || recorderThreads < 0 || recorderThreads > MAX_RECORDER_THREADS) {
      return yield* fail(
        "InvalidNumber",
        `--recorder-threads must be a whole number from 0 to ${MAX_RECORDER_THREADS}, got ${recorderThreads}`
      )
    }
    const recorderHeapMb = raw.recorderHeapMb ?? RecorderThread.DEFAULT_HEAP_LIMIT_MB
    const noRecorderThread = Option.isSome(raw.redis ?? Option.none())
      ? "with --redis (the workers record)"
      : recorderThreads === 0
      ? "with --recorder-threads 0 (the main thread records)"
      : undefined
    if (raw.recorderHeapMb !== undefined && noRecorderThread !== undefined) {
      return yield* fail(
        "ConflictingFlags",
        `--recorder-heap-mb sets the heap of the recorder threads, and there are none ${noRecorderThread}`
      )
    }
    if (!Number.isSafeInteger(recorderHeapMb) || recorderHeapMb < MIN_RECORDER_HEAP_MB) {
      return yield* fail(
        "InvalidNumber",
        `--recorder-heap-mb must be a whole number of at least ${MIN_RECORDER_HEAP_MB}, got ${recorderHeapMb}`
      )
    }
    const limits: { [K in LimitName]?: number } = {}
    for (const name of limitNames) {
      const value = raw.limits?.[name] ?? Option.none()
      if (Option.isNone(value)) continue
      if (!Number.isSafeInteger(value.value) || value.value < 1) {
        return yield* fail(
          "InvalidNumber",
          `--${flagOf(name)} must be a whole number of at least 1, got ${value.value}`
        )
      }
      limits[name] = value.value
    }
    const tokens = Option.match(raw.token, {
      onNone: () => [],
      onSome: (token) =>
        Redacted.value(token).split(",").map((t) => t.trim()).filter((t) => t !== "").map((t) => Redacted.make(t))
    })
    if (Option.isSome(raw.token) && tokens.length === 0) {
      return yield* fail("InvalidSecret", "--token is empty")
    }
    if (Option.isSome(raw.signingSecret) && !isSigningSecret(Redacted.value(raw.signingSecret.value))) {
      return yield* fail(
        "InvalidSecret",
        "--signing-secret must look like whsec_<base64 key> (the verification secret from Recall's dashboard)"
      )
    }
    const authMode: AuthMode = raw.allowUnauthenticated && tokens.length === 0 && Option.isNone(raw.signingSecret)
      ? "none"
      : tokens.length > 0 && Option.isSome(raw.signingSecret)
      ? "both"
      : tokens.length > 0
      ? "token"
      : Option.isSome(raw.signingSecret)
      ? "signed"
      : "generated-token"

    const redis = yield* Effect.transposeOption(Option.map(raw.redis ?? Option.none(), RedisSettings.resolve))
    // a receiver that publishes writes no files: its --out is neither created nor checked
    const out = Option.isSome(redis) ? (yield* Path.Path).resolve(raw.out) : yield* writableFolder(raw.out)

    return {
      host: raw.host,
      port: raw.port,
      path: raw.path,
      tokens: authMode === "generated-token" ? [generateToken()] : tokens,
      signingSecret: raw.signingSecret,
      authMode,
      out,
      sessionTimeoutSeconds: raw.sessionTimeout,
      maxMessageBytes: raw.maxMessageBytes,
      recorderThreads,
      recorderHeapMb,
      redis,
      limits
    }
  })

/**
 * The absolute path of an `--out` folder, created if missing; a folder that cannot be created or written is a
 * `SettingsError` that says why.
 *
 * @since 0.2.0
 * @category validation
 */
export const writableFolder = (
  folder: string
): Effect.Effect<string, SettingsError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const out = path.resolve(folder)
    const notWritable = (cause: unknown) =>
      new SettingsError({
        reason: "OutputNotWritable",
        message: `--out ${out} is not a writable folder (${cause instanceof Error ? cause.message : String(cause)})`
      })
    yield* fs.makeDirectory(out, { recursive: true }).pipe(Effect.mapError(notWritable))
    const probe = path.join(out, `.callstream-write-test-${process.pid}`)
    yield* fs.writeFileString(probe, "").pipe(
      Effect.zipRight(fs.remove(probe)),
      Effect.mapError(notWritable)
    )
    return out
  })
