/**
 * `callstream replay`: plays a tape to a websocket URL the way Recall does (same frames, retries 30 x 3 s).
 *
 * @since 0.1.0
 */
import { RecallSimulator } from "@callstream/server"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

/**
 * @since 0.1.0
 * @category models
 */
export interface ReplayOptions {
  readonly tape: string
  readonly url: string
  /** 1 is real time; 0 (or less) plays as fast as possible. */
  readonly speed: number
  readonly signingSecret: Option.Option<Redacted.Redacted<string>>
}

/**
 * The command's handler.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (options: ReplayOptions) =>
  Effect.gen(function*() {
    const speed = options.speed > 0 ? options.speed : Infinity
    yield* Console.log(
      `replaying ${options.tape} to ${redactUrl(options.url)} at ${speed === Infinity ? "full" : `${speed}x`} speed`
    )
    const result = yield* RecallSimulator.replayFile(options.tape, {
      url: options.url,
      speed,
      signingSecret: Option.getOrUndefined(options.signingSecret)
    })
    yield* Console.log(
      `sent ${result.sent} messages over ${result.connections} connection(s)` +
        (result.failedAttempts > 0 ? `, ${result.failedAttempts} failed attempt(s)` : "") +
        (result.lost > 0 ? `, ${result.lost} lost to drops` : "")
    )
  }) satisfies Effect.Effect<void, unknown, FileSystem.FileSystem>

/**
 * A URL with its `token` query parameter hidden, for printing.
 *
 * @since 0.1.0
 * @category printing
 */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.searchParams.has("token")) parsed.searchParams.set("token", "<redacted>")
    return parsed.toString().replace("%3Credacted%3E", "<redacted>")
  } catch {
    return url
  }
}
