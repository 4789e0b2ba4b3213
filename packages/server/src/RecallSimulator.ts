/**
 * A client that replays a tape to a websocket URL the way Recall's bot does: the same envelopes, text frames,
 * a connection retried on a fixed schedule (3 s apart, 30 tries per incident, both configurable), and nothing
 * replayed after a reconnect. Faults on demand: drop the connection at a message index or meeting time, send
 * duplicates, reorder within a window, send binary frames, open one connection per participant for separate audio.
 *
 * @example
 * ```ts
 * import { SampleMeeting } from "@callstream/core"
 * import { RecallSimulator } from "@callstream/server"
 * import { Effect } from "effect"
 *
 * const meeting = SampleMeeting.generate({ duration: 10 })
 * const program = RecallSimulator.replay(meeting.entries, {
 *   url: "ws://localhost:8080/ws?token=s3cret",
 *   speed: 10,
 *   drops: [{ atTime: 4 }]
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Tape from "@callstream/core/Tape"
import type * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { WebSocket } from "ws"
import * as UpgradeAuth from "./UpgradeAuth.js"

/**
 * A connection cut, like a network interruption: at a message index (0-based, before that message is sent) or at a
 * meeting time (tape seconds). `lose` messages after it are never sent, as Recall sends nothing it produced while
 * disconnected; with finite `speed` every message due before the reconnect is lost anyway.
 *
 * @since 0.1.0
 * @category models
 */
export interface Drop {
  readonly atIndex?: number | undefined
  readonly atTime?: number | undefined
  readonly lose?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The websocket URL, with `?token=` when the server wants one. */
  readonly url: string
  /** 1 is real time, 10 ten times as fast, `Infinity` as fast as possible. Default 1. */
  readonly speed?: number | undefined
  /** Send binary frames instead of text frames. */
  readonly binary?: boolean | undefined
  /** Sign every upgrade attempt (Standard Webhooks headers). */
  readonly signingSecret?: Redacted.Redacted<string> | undefined
  /** Sign with the legacy `svix-*` header names. */
  readonly legacyHeaders?: boolean | undefined
  /** Extra upgrade headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Time between connection attempts. Default 3 seconds. */
  readonly retrySpacing?: Duration.DurationInput | undefined
  /** Retries per incident after the first attempt. Default 30. */
  readonly retries?: number | undefined
  readonly drops?: ReadonlyArray<Drop> | undefined
  /** Send every n-th message twice. */
  readonly duplicateEvery?: number | undefined
  /** Shuffle messages within consecutive windows of this many (send times stay in order). */
  readonly reorderWindow?: number | undefined
  /** Seed of the reorder shuffle. Default 1. */
  readonly seed?: number | undefined
  /** Send `audio_separate_raw.data` on one connection per participant, as Recall does for separate audio. */
  readonly separateConnections?: boolean | undefined
  /** Bytes the client may buffer before it waits for the socket to drain. Default 1 MiB. */
  readonly highWaterMark?: number | undefined
}

/**
 * What a replay did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result {
  /** Frames sent (duplicates included). */
  readonly sent: number
  /** Messages never sent because they fell in a dropped connection's outage. */
  readonly lost: number
  readonly duplicated: number
  /** Connections opened, reconnects included. */
  readonly connections: number
  /** Connection attempts that failed (refused, rejected upgrade). */
  readonly failedAttempts: number
}

/**
 * A replay that could not go on: no connection after all retries of an incident.
 *
 * @since 0.1.0
 * @category errors
 */
export class SimulatorError extends Data.TaggedError("SimulatorError")<{
  readonly reason: "ConnectFailed"
  readonly cause: unknown
}> {
  override get message(): string {
    return `${this.reason}: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

interface Item {
  readonly at: number
  readonly text: string
  readonly channel: string
  readonly duplicate: boolean
}

const channelOf = (message: unknown, separate: boolean): string => {
  if (!separate) return "main"
  const m = message as { event?: unknown; data?: { data?: { participant?: { id?: unknown } } } }
  if (m?.event !== "audio_separate_raw.data") return "main"
  return `participant-${String(m.data?.data?.participant?.id ?? "unknown")}`
}

/** A small seeded generator (mulberry32), enough for a reproducible shuffle. */
const random = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const plan = (entries: ReadonlyArray<Tape.TapeEntry>, options: Options): Array<Item> => {
  const separate = options.separateConnections === true
  const items = entries.map((entry): Item => ({
    at: entry.at,
    text: JSON.stringify(entry.message),
    channel: channelOf(entry.message, separate),
    duplicate: false
  }))
  const window = options.reorderWindow ?? 0
  if (window > 1) {
    const next = random(options.seed ?? 1)
    for (let start = 0; start < items.length; start += window) {
      const end = Math.min(items.length, start + window)
      const slice = items.slice(start, end)
      for (let i = slice.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1))
        ;[slice[i], slice[j]] = [slice[j]!, slice[i]!]
      }
      // messages move, send times stay where they were
      for (let i = start; i < end; i++) items[i] = { ...slice[i - start]!, at: items[i]!.at }
    }
  }
  const every = options.duplicateEvery ?? 0
  if (every > 0) {
    const out: Array<Item> = []
    items.forEach((item, i) => {
      out.push(item)
      if ((i + 1) % every === 0) out.push({ ...item, duplicate: true })
    })
    return out
  }
  return items
}

/** A URL no attempt can use: not retried. */
class InvalidUrl extends Error {}

const open = (url: string, headers: Record<string, string>) =>
  Effect.async<WebSocket, Error>((resume) => {
    let ws: WebSocket
    try {
      ws = new WebSocket(url, { headers, perMessageDeflate: false })
    } catch {
      // ws puts the whole URL, token included, in some of these messages: say what is wrong without it
      resume(Effect.fail(new InvalidUrl("Not a usable websocket URL (ws:, wss:, http: or https:, no fragment)")))
      return
    }
    const fail = (error: Error) => {
      ws.removeAllListeners()
      ws.on("error", () => {})
      ws.terminate()
      resume(Effect.fail(error))
    }
    ws.once("open", () => {
      ws.removeAllListeners()
      ws.on("error", () => {})
      resume(Effect.succeed(ws))
    })
    ws.once("unexpected-response", (_request, response) => {
      fail(new Error(`Upgrade rejected with HTTP ${response.statusCode}`))
    })
    ws.once("error", fail)
    return Effect.sync(() => {
      ws.removeAllListeners()
      ws.on("error", () => {})
      ws.terminate()
    })
  })

const sendFrame = (ws: WebSocket, data: string | Buffer, highWaterMark: number) =>
  ws.bufferedAmount < highWaterMark
    ? Effect.sync(() => ws.send(data))
    : Effect.async<void>((resume) => {
      ws.send(data, () => resume(Effect.void))
    })

const closeGracefully = (ws: WebSocket) =>
  Effect.async<void>((resume) => {
    if (ws.readyState === WebSocket.CLOSED) return resume(Effect.void)
    ws.once("close", () => resume(Effect.void))
    ws.close(1000, "meeting ended")
  }).pipe(
    Effect.timeoutTo({ duration: Duration.seconds(2), onSuccess: () => undefined, onTimeout: () => ws.terminate() })
  )

/**
 * Replays tape entries to `options.url`. Succeeds once every message was sent (or lost to a planned drop) and the
 * connections were closed with 1000; fails when an incident exhausts its retries.
 *
 * @since 0.1.0
 * @category replay
 */
export const replay = (
  entries: Iterable<Tape.TapeEntry>,
  options: Options
): Effect.Effect<Result, SimulatorError> =>
  Effect.suspend(() => {
    const sockets = new Map<string, WebSocket>()
    return run(entries, options, sockets).pipe(
      Effect.ensuring(Effect.sync(() => {
        for (const ws of sockets.values()) ws.terminate()
      }))
    )
  })

const run = (entries: Iterable<Tape.TapeEntry>, options: Options, sockets: Map<string, WebSocket>) =>
  Effect.gen(function*() {
    const items = plan(Array.from(entries), options)
    const speed = options.speed ?? 1
    const paced = Number.isFinite(speed) && speed > 0
    const highWaterMark = options.highWaterMark ?? 1024 * 1024
    const spacing = Duration.decode(options.retrySpacing ?? Duration.seconds(3))
    const retries = options.retries ?? 30
    const drops = [...(options.drops ?? [])]
    let connections = 0
    let failedAttempts = 0
    let sent = 0
    let lost = 0
    let duplicated = 0

    const headers = () => ({
      ...options.headers,
      ...(options.signingSecret === undefined
        ? {}
        : UpgradeAuth.signedHeaders(options.signingSecret, { legacy: options.legacyHeaders === true }))
    })
    const attempt = Effect.suspend(() => open(options.url, headers())).pipe(
      Effect.tapError(() => Effect.sync(() => failedAttempts++))
    )
    const connect = (channel: string) =>
      attempt.pipe(
        Effect.retry({
          schedule: Schedule.intersect(Schedule.spaced(spacing), Schedule.recurs(retries)),
          while: (error) => !(error instanceof InvalidUrl)
        }),
        Effect.mapError((cause) => new SimulatorError({ reason: "ConnectFailed", cause })),
        Effect.tap((ws) =>
          Effect.sync(() => {
            connections++
            sockets.set(channel, ws)
          })
        )
      )
    const socketFor = (channel: string) =>
      Effect.suspend(() => {
        const ws = sockets.get(channel)
        if (ws !== undefined && ws.readyState === WebSocket.OPEN) return Effect.succeed(ws)
        // closed by the server (or never opened): a new incident, retried from the start
        return ws === undefined ? connect(channel) : Effect.zipRight(Effect.sleep(spacing), connect(channel))
      })

    const start = yield* Clock.currentTimeMillis
    let skipUntilMs = -Infinity
    let skipCount = 0
    for (let index = 0; index < items.length; index++) {
      const item = items[index]!
      const due = paced ? start + (item.at * 1000) / speed : 0
      const dropHere = drops.findIndex((d) =>
        (d.atIndex !== undefined && d.atIndex === index) || (d.atTime !== undefined && item.at >= d.atTime)
      )
      if (dropHere >= 0) {
        const drop = drops.splice(dropHere, 1)[0]!
        if (paced) {
          const now = yield* Clock.currentTimeMillis
          if (due > now) yield* Effect.sleep(Duration.millis(due - now))
        }
        for (const ws of sockets.values()) ws.terminate()
        sockets.clear()
        skipCount += drop.lose ?? 0
        // Recall's first retry comes one spacing after the drop; what it produced meanwhile is lost
        yield* Effect.sleep(spacing)
        yield* connect(item.channel)
        skipUntilMs = yield* Clock.currentTimeMillis
      }
      if (skipCount > 0) {
        skipCount--
        lost++
        continue
      }
      if (paced) {
        if (due < skipUntilMs) {
          lost++
          continue
        }
        const now = yield* Clock.currentTimeMillis
        if (due > now) yield* Effect.sleep(Duration.millis(due - now))
      }
      const ws = yield* socketFor(item.channel)
      yield* sendFrame(ws, options.binary === true ? Buffer.from(item.text, "utf8") : item.text, highWaterMark)
      sent++
      if (item.duplicate) duplicated++
    }
    yield* Effect.forEach(sockets.values(), closeGracefully, { discard: true, concurrency: "unbounded" })
    return { sent, lost, duplicated, connections, failedAttempts }
  })

/**
 * Replays a tape file.
 *
 * @since 0.1.0
 * @category replay
 */
export const replayFile = (
  path: string,
  options: Options
): Effect.Effect<Result, SimulatorError | Tape.TapeError | PlatformError.PlatformError, FileSystem.FileSystem> =>
  Tape.read(path).pipe(
    Stream.runCollect,
    Effect.flatMap((entries) => replay(Chunk.toReadonlyArray(entries), options))
  )
