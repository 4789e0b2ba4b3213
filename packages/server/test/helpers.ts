import type { SessionEvent } from "@callstream/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Http from "node:http"
import * as Net from "node:net"
import { WebSocket } from "ws"
import { RecallServer } from "../src/index.js"

/** Simulator settings for tests: as fast as possible, quick retries. */
export const fast = { speed: Infinity, retrySpacing: "20 millis", retries: 50 } as const

/**
 * Starts a test server in a scope of its own (logs off), so a test can shut it down while its consumers keep
 * reading what was drained.
 */
export const startServer = (options: RecallServer.Options = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const layer = RecallServer.layerTest(options).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None)))
    const context = yield* Layer.buildWithScope(layer, scope)
    const server = Context.get(context, RecallServer.RecallServer)
    return { server, shutdown: Scope.close(scope, Exit.void) }
  })

/** One line the server logged. */
export interface LoggedLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** Like {@link startServer}, but every log line (debug included) is kept in `lines`. */
export const startLoggedServer = (options: RecallServer.Options = {}) =>
  Effect.gen(function*() {
    const lines: Array<LoggedLine> = []
    const capture = Logger.make(({ annotations, logLevel, message }) => {
      lines.push({
        level: logLevel.label,
        message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    })
    const scope = yield* Scope.make()
    const layer = RecallServer.layerTest(options).pipe(
      Layer.provide(Logger.replace(Logger.defaultLogger, capture)),
      Layer.provide(Logger.minimumLogLevel(LogLevel.All))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    const server = Context.get(context, RecallServer.RecallServer)
    return { server, lines, shutdown: Scope.close(scope, Exit.void) }
  })

/** Collects a Stream into an array in a background fiber; `join` waits for the end. */
export const collect = <A>(stream: Stream.Stream<A>) =>
  Effect.gen(function*() {
    const items: Array<A> = []
    const fiber = yield* stream.pipe(
      Stream.runForEach((item) => Effect.sync(() => items.push(item))),
      Effect.fork
    )
    return { items, join: Fiber.join(fiber), fiber }
  })

/** Waits `ms` of real time, whatever clock the test runs on. */
export const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Polls until `f` is true (real time, also under `TestClock`), failing after `timeoutMs`. */
export const eventually = (f: () => boolean, timeoutMs = 10_000) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!f()) {
      if (Date.now() - start > timeoutMs) return yield* Effect.dieMessage("condition not met in time")
      yield* realSleep(10)
    }
  })

/** An HTTP GET on 127.0.0.1. */
export const get = (port: number, path: string) =>
  Effect.promise(() =>
    fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => ({ status: r.status, body: await r.text() }))
  )

/** Tries a websocket upgrade and reports the HTTP status, or 101 when it opened (then closes it). */
export const upgradeStatus = (url: string, headers: Record<string, string> = {}) =>
  Effect.async<number>((resume) => {
    const ws = new WebSocket(url, { headers })
    ws.on("open", () => {
      ws.close()
      resume(Effect.succeed(101))
    })
    ws.on("unexpected-response", (_req, res: Http.IncomingMessage) => {
      resume(Effect.succeed(res.statusCode ?? 0))
      ws.terminate()
    })
    ws.on("error", () => {})
  })

/** The items of one tag, typed. */
export const ofTag = <T extends SessionEvent.SessionEvent["_tag"]>(
  items: ReadonlyArray<SessionEvent.SessionEvent>,
  tag: T
) => items.filter((item): item is Extract<SessionEvent.SessionEvent, { _tag: T }> => item._tag === tag)

export const tags = (items: ReadonlyArray<SessionEvent.SessionEvent>) => items.map((item) => item._tag)

export const messages = (items: ReadonlyArray<SessionEvent.SessionEvent>) =>
  items.filter((item): item is SessionEvent.Message => item._tag === "Message")

/** The value of one Prometheus sample (0 when absent). */
export const sample = (text: string, name: string, labels: Record<string, string> = {}): number => {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (.+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const have = match[3] === undefined ? [] : match[3].split(",")
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) return Number(match[4])
  }
  return 0
}

/** Writes raw bytes to 127.0.0.1:port and returns everything the server answered before closing. */
export const rawExchange = (port: number, request: string) =>
  Effect.async<string>((resume) => {
    const socket = Net.connect(port, "127.0.0.1", () => socket.write(request))
    let text = ""
    socket.on("data", (data) => {
      text += data.toString("utf8")
    })
    socket.on("close", () => resume(Effect.succeed(text)))
    socket.on("error", () => {})
    return Effect.sync(() => socket.destroy())
  })

/** An upgrade request for `path`. */
export const upgradeRequest = (path: string, extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`

/** The sum of every sample of one Prometheus metric, whatever its labels. */
export const total = (text: string, name: string): number => {
  let sum = 0
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(" ") + 1))
  }
  return sum
}

/** Opens a websocket client; errors are ignored (a test looks at close codes instead). */
export const openClient = (url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}) => {
  const ws = new WebSocket(url, options)
  ws.on("error", () => {})
  return Effect.async<WebSocket>((resume) => void ws.once("open", () => resume(Effect.succeed(ws))))
}

/** The close code a client sees (-1 when it was already closed). */
export const closeCode = (ws: WebSocket) =>
  Effect.async<number>((resume) => {
    if (ws.readyState === WebSocket.CLOSED) return resume(Effect.succeed(-1))
    ws.once("close", (code) => resume(Effect.succeed(code)))
  })

/** Polls `/metrics` (20 ms apart) until `until` holds for its text, failing after `timeoutMs`. */
export const metricsUntil = (port: number, until: (text: string) => boolean, timeoutMs = 10_000) =>
  Effect.gen(function*() {
    const start = Date.now()
    for (;;) {
      const { body } = yield* get(port, "/metrics")
      if (until(body)) return body
      if (Date.now() - start > timeoutMs) return yield* Effect.dieMessage("metrics never showed the condition")
      yield* Effect.sleep("20 millis")
    }
  })

/**
 * A websocket client written by hand on a raw TCP socket, for what `ws` refuses to send: frames with reserved
 * opcodes, and a peer that never answers a close.
 */
export const rawClient = (port: number, path = "/ws") =>
  Effect.async<{ readonly socket: Net.Socket; readonly send: (opcode: number, payload: Buffer) => void }>((resume) => {
    const socket = Net.connect(port, "127.0.0.1", () => socket.write(upgradeRequest(path)))
    socket.on("error", () => {})
    socket.once("data", (answer) => {
      if (!answer.toString("latin1").startsWith("HTTP/1.1 101")) socket.destroy()
      // client frames are masked; a zero mask leaves the payload as it is
      const send = (opcode: number, payload: Buffer) => {
        const length = payload.length < 126
          ? Buffer.from([0x80 | opcode, 0x80 | payload.length])
          : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff])
        socket.write(Buffer.concat([length, Buffer.alloc(4), payload]))
      }
      resume(Effect.succeed({ socket, send }))
    })
  })
