/**
 * Authentication of websocket upgrades, before any upgrade happens. Two schemes, usable alone or together:
 *
 * - a query token (`?token=...`): any of several tokens is accepted (to rotate without downtime), each compared in
 *   constant time;
 * - Recall's signed upgrade (the Standard Webhooks scheme): headers `webhook-id`, `webhook-timestamp` and
 *   `webhook-signature` (or the legacy `svix-*` names), a base64 HMAC-SHA256 of `${id}.${timestamp}.` (the body
 *   of an upgrade is empty) keyed with the base64 key of a `whsec_` secret; the timestamp must be within the
 *   tolerance (5 minutes) and an id is accepted only once within it.
 *
 * Secrets are `Redacted` and appear in no error, failure or log line.
 *
 * @example
 * ```ts
 * import { UpgradeAuth } from "@callstream/server"
 * import { Redacted } from "effect"
 *
 * const secret = Redacted.make("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
 * const headers = UpgradeAuth.signedHeaders(secret, { id: "msg_1", timestamp: Math.floor(Date.now() / 1000) })
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"

/**
 * Which schemes an upgrade must pass. With neither tokens nor a signing secret, `allowUnauthenticated` must be
 * set explicitly.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Accepted query tokens (`?token=`); any one of them passes. */
  readonly tokens?: ReadonlyArray<Redacted.Redacted<string>> | undefined
  /** The verification secret, `whsec_<base64 key>`. */
  readonly signingSecret?: Redacted.Redacted<string> | undefined
  /** Accept upgrades with no authentication at all (local experiments only). */
  readonly allowUnauthenticated?: boolean | undefined
  /** How far a signature timestamp may be from now, either way, and how long ids are remembered. Default 5 minutes. */
  readonly tolerance?: Duration.DurationInput | undefined
  /**
   * How many signature ids to remember at most. The oldest are forgotten first; one forgotten before its timestamp
   * went stale could be replayed, so that is counted (see {@link Verifier}). Default 100 000.
   */
  readonly maxRememberedIds?: number | undefined
}

/**
 * The authentication mode that follows from {@link Options}.
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "token" | "signed" | "both" | "none"

/**
 * Every {@link Failure}.
 *
 * @since 0.2.0
 * @category models
 */
export const failures = ["missing", "invalid", "stale", "replayed"] as const

/**
 * Why an upgrade was rejected: credentials `missing`, `invalid` (wrong token or signature), `stale` (timestamp
 * outside the tolerance) or `replayed` (a signature id already accepted).
 *
 * @since 0.1.0
 * @category models
 */
export type Failure = typeof failures[number]

/**
 * Authentication options that cannot work.
 *
 * @since 0.1.0
 * @category errors
 */
export class UpgradeAuthError extends Data.TaggedError("UpgradeAuthError")<{
  readonly reason: "NoAuthentication" | "InvalidSecret"
}> {
  override get message(): string {
    return this.reason === "NoAuthentication"
      ? "No query token and no signing secret: give one, or set allowUnauthenticated explicitly"
      : "The signing secret must be whsec_ followed by a base64 key"
  }
}

/**
 * What an upgrade request shows: its URL (path and query) and its headers.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpgradeRequest {
  readonly url: string
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
}

/**
 * A verifier with its replay memory.
 *
 * @since 0.1.0
 * @category models
 */
export interface Verifier {
  readonly mode: Mode
  /** Checks one upgrade at `now` (epoch ms). A passing signed upgrade's id is remembered. */
  readonly verify: (request: UpgradeRequest, now: number) => Either.Either<void, Failure>
  /**
   * The replay memory: ids remembered now, and how many were forgotten so far while their timestamps were still
   * fresh, because `maxRememberedIds` was reached (each such id could have been replayed).
   *
   * @since 0.2.0
   */
  readonly memory: () => { readonly remembered: number; readonly forgottenEarly: number }
}

const digest = (value: string | Buffer): Buffer => Crypto.createHash("sha256").update(value).digest()

/** Constant-time equality of two strings of any lengths (both are hashed to the same length first). */
const safeEqual = (a: string, b: Buffer): boolean => Crypto.timingSafeEqual(digest(a), b)

const signingKey = (secret: Redacted.Redacted<string>): Either.Either<Buffer, UpgradeAuthError> => {
  const value = Redacted.value(secret).trim()
  const base64 = value.startsWith("whsec_") ? value.slice(6) : value
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(base64) ? Buffer.from(base64, "base64") : Buffer.alloc(0)
  return key.byteLength === 0 ? Either.left(new UpgradeAuthError({ reason: "InvalidSecret" })) : Either.right(key)
}

const hmac = (key: Buffer, id: string, timestamp: string): string =>
  Crypto.createHmac("sha256", key).update(`${id}.${timestamp}.`).digest("base64")

/**
 * The signature Recall sends for an upgrade with this id and timestamp (unix seconds): `v1,<base64>`.
 *
 * @since 0.1.0
 * @category signing
 */
export const sign = (secret: Redacted.Redacted<string>, id: string, timestamp: number | string): string => {
  const key = Either.getOrThrowWith(signingKey(secret), (error) => error)
  return `v1,${hmac(key, id, String(timestamp))}`
}

/**
 * The three headers of a signed upgrade (`webhook-*`, or `svix-*` with `legacy`). Defaults: a random id, now.
 *
 * @since 0.1.0
 * @category signing
 */
export const signedHeaders = (
  secret: Redacted.Redacted<string>,
  options?: { readonly id?: string; readonly timestamp?: number; readonly legacy?: boolean }
): Record<string, string> => {
  const id = options?.id ?? `msg_${Crypto.randomUUID()}`
  const timestamp = options?.timestamp ?? Math.floor(Date.now() / 1000)
  const prefix = options?.legacy === true ? "svix" : "webhook"
  return {
    [`${prefix}-id`]: id,
    [`${prefix}-timestamp`]: String(timestamp),
    [`${prefix}-signature`]: sign(secret, id, timestamp)
  }
}

const header = (request: UpgradeRequest, name: string): string | undefined => {
  const value = request.headers[name]
  return typeof value === "string" ? value : Array.isArray(value) ? value[0] : undefined
}

const queryToken = (url: string): string | undefined => {
  const q = url.indexOf("?")
  if (q < 0) return undefined
  return new URLSearchParams(url.slice(q + 1)).get("token") ?? undefined
}

/**
 * Makes a verifier, or fails when the options cannot work (no scheme and no explicit `allowUnauthenticated`, or
 * a malformed secret).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Either.Either<Verifier, UpgradeAuthError> => {
  const tokens = (options.tokens ?? []).map((token) => digest(Redacted.value(token)))
  const secret = options.signingSecret
  if (tokens.length === 0 && secret === undefined && options.allowUnauthenticated !== true) {
    return Either.left(new UpgradeAuthError({ reason: "NoAuthentication" }))
  }
  let key: Buffer | undefined
  if (secret !== undefined) {
    const decoded = signingKey(secret)
    if (Either.isLeft(decoded)) return Either.left(decoded.left)
    key = decoded.right
  }
  const mode: Mode = tokens.length > 0 && key !== undefined
    ? "both"
    : tokens.length > 0
    ? "token"
    : key !== undefined
    ? "signed"
    : "none"
  const toleranceMs = Duration.toMillis(options.tolerance ?? Duration.minutes(5))
  const maxIds = Math.max(1, options.maxRememberedIds ?? 100_000)
  // id -> when it may be forgotten (its timestamp is stale from then on); insertion order is arrival order, so
  // the oldest come first, give or take the clock skew between senders
  const seen = new Map<string, number>()
  let forgottenEarly = 0

  const checkToken = (request: UpgradeRequest): Failure | undefined => {
    const given = queryToken(request.url)
    if (given === undefined || given === "") return "missing"
    let ok = false
    for (const token of tokens) ok = safeEqual(given, token) || ok
    return ok ? undefined : "invalid"
  }

  const checkSignature = (request: UpgradeRequest, now: number, signingKey: Buffer): Failure | undefined => {
    const prefix = header(request, "webhook-id") !== undefined ? "webhook" : "svix"
    const id = header(request, `${prefix}-id`)
    const timestamp = header(request, `${prefix}-timestamp`)
    const signatures = header(request, `${prefix}-signature`)
    if (id === undefined || timestamp === undefined || signatures === undefined) return "missing"
    const seconds = Number(timestamp)
    if (!/^\d{1,12}$/.test(timestamp) || !Number.isFinite(seconds)) return "invalid"
    const expected = digest(hmac(signingKey, id, timestamp))
    let ok = false
    for (const part of signatures.split(" ")) {
      const comma = part.indexOf(",")
      if (comma < 0 || part.slice(0, comma) !== "v1") continue
      ok = safeEqual(part.slice(comma + 1), expected) || ok
    }
    if (!ok) return "invalid"
    if (Math.abs(now - seconds * 1000) > toleranceMs) return "stale"
    // ids come with valid signatures only, but a header can hold kilobytes: a digest keeps each entry small
    const remembered = digest(id).toString("base64")
    const previous = seen.get(remembered)
    if (previous !== undefined) {
      if (previous >= now) return "replayed"
      seen.delete(remembered)
    }
    for (const [old, until] of seen) {
      if (until >= now && seen.size < maxIds) break
      if (until >= now) forgottenEarly++
      seen.delete(old)
    }
    // remembered until its timestamp goes stale (a timestamp ahead of this clock stays valid past now + tolerance)
    seen.set(remembered, seconds * 1000 + toleranceMs)
    return undefined
  }

  const verify = (request: UpgradeRequest, now: number): Either.Either<void, Failure> => {
    if (tokens.length > 0) {
      const failure = checkToken(request)
      if (failure !== undefined) return Either.left(failure)
    }
    if (key !== undefined) {
      const failure = checkSignature(request, now, key)
      if (failure !== undefined) return Either.left(failure)
    }
    return Either.void
  }

  return Either.right({ mode, verify, memory: () => ({ remembered: seen.size, forgottenEarly }) })
}
