import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import type * as Net from "node:net"
import { WebSocketServer } from "ws"
import * as ServerMetrics from "../ServerMetrics.js"
import type * as UpgradeAuth from "../UpgradeAuth.js"
import { Admission } from "./admission.js"
import { EventBuffer, MergedBuffers } from "./buffer.js"
import * as Connection from "./connection.js"
import * as Counters from "./counters.js"
import { guarded } from "./defence.js"
import * as Heartbeat from "./heartbeat.js"
import * as HttpRoutes from "./http.js"
import { ServerLog } from "./log.js"
import * as Prometheus from "./prometheus.js"
import { Router } from "./router.js"
import type { Settings } from "./settings.js"
import { Shutdown } from "./shutdown.js"
import type { SessionState } from "./state.js"
import * as Tracing from "./tracing.js"
import * as Upgrade from "./upgrade.js"

/** TCP connections beyond the websocket limit, for health checks and metric scrapes while every slot is taken. */
const HTTP_HEADROOM = 64
/** Connections the kernel holds before they are accepted (Linux caps it at net.core.somaxconn, 4096 by default). */
const LISTEN_BACKLOG = 4096

/** Events one take from a buffer hands over at most. */
const MAX_CHUNK = 4096

/**
 * Starts the server in the current Scope: the HTTP listener, the websocket gate, the router, the heartbeat and the
 * log writer; closing the Scope shuts it all down gracefully. Fails with the listener's error when the port cannot
 * be bound.
 */
export const start = Effect.fnUntraced(function*(
  settings: Settings,
  verifier: UpgradeAuth.Verifier,
  tracingEnabled: boolean | undefined
) {
  yield* ServerMetrics.register
  const runFork = yield* FiberSet.makeRuntime<never>()
  const clock = yield* Effect.clock
  const now = () => clock.unsafeCurrentTimeMillis()
  const log = new ServerLog(now)
  const tracing = yield* Tracing.make({ enabled: tracingEnabled, authMode: verifier.mode, log: log.write })
  const logWriter = yield* Effect.forkScoped(log.run)
  // sessions as they start, for whichever of `sessions` or `events` is read; each is handed over at once, so its
  // events find their reader (and can hurry it) from the same turn on
  const started = new EventBuffer<SessionState>(Number.MAX_SAFE_INTEGER, () => {}, true)

  if (verifier.mode === "none") {
    yield* Effect.logWarning(
      "AUTHENTICATION IS OFF: any client that reaches this server can send it events (allowUnauthenticated)"
    )
  }

  const router = new Router(
    { ...settings, maxChunk: MAX_CHUNK },
    {
      now,
      after: (ms, f) => {
        const fiber = runFork(
          Effect.sleep(Duration.millis(ms)).pipe(Effect.zipRight(Effect.sync(() => guarded(log.write, "timer", f))))
        )
        return () => fiber.unsafeInterruptAsFork(fiber.id())
      },
      log: log.write,
      published: (session) => started.offer(session),
      tracing
    }
  )
  const admission = new Admission(settings)
  const shutdown = new Shutdown()
  const shuttingDown = () => shutdown.active

  const health = () => ({
    status: shutdown.active ? "shutting_down" as const : "ok" as const,
    sessions: router.sessions.size,
    connections: router.connections.size,
    paused: router.flow.pausedConnections,
    queued: router.flow.queued,
    queuedBytes: router.flow.queuedBytes
  })
  const metrics = () => {
    ServerMetrics.queueDepth.unsafeUpdate(router.flow.queued, Counters.NO_TAGS)
    ServerMetrics.queueBytes.unsafeUpdate(router.flow.queuedBytes, Counters.NO_TAGS)
    return Prometheus.renderGlobal("callstream_")
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxMessageBytes, clientTracking: false })
  const server = Http.createServer(HttpRoutes.handler({ path: settings.path, health, metrics, log: log.write }))
  server.on(
    "upgrade",
    Upgrade.handler({
      path: settings.path,
      verifier,
      admission,
      wss,
      now,
      shuttingDown,
      log: log.write,
      tracing,
      accept: Connection.accept({
        router,
        admission,
        now,
        log: log.write,
        shuttingDown,
        closed: () => shutdown.connectionClosed(router.connections.size),
        tracing
      })
    })
  )
  server.on("clientError", (_error, socket) =>
    guarded(log.write, "request", () => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
      else socket.destroy()
    }))
  // TCP connections are bounded too, so a flood of idle sockets cannot exhaust file descriptors
  server.maxConnections = settings.maxConnections + HTTP_HEADROOM
  server.on("drop", () => {
    Counters.limitReached("tcp_connections")
    log.write("Warning", "TCP connection dropped: too many open", { max: server.maxConnections })
  })

  yield* Effect.async<void, Error>((resume) => {
    const onError = (cause: Error) => resume(Effect.fail(cause))
    server.once("error", onError)
    // a deep accept queue: bots that connect in a burst wait in it while a busy loop accepts one connection per
    // turn, instead of having their SYNs dropped when Node's default of 511 fills (the kernel caps it at somaxconn)
    server.listen({ port: settings.port, host: settings.host, backlog: LISTEN_BACKLOG }, () => {
      server.off("error", onError)
      resume(Effect.void)
    })
  })
  server.on("error", (error) => log.write("Error", "HTTP server error", { error: error.message }))

  const bound = server.address() as Net.AddressInfo
  const { host, path } = settings
  const urlHost = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host
  const address = { host, port: bound.port, path, url: `ws://${urlHost}:${bound.port}${path}` }
  yield* Effect.logInfo(`Listening on ${address.url}`).pipe(Effect.annotateLogs({ auth: verifier.mode }))

  yield* Effect.forkScoped(Heartbeat.run(router, settings.heartbeatMs, log.write))

  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      yield* shutdown.run({ router, server, wss, started, deadlineMs: settings.shutdownMs })
      // every line written so far, the sessions' ends included, is out before the scope closes
      log.close()
      yield* Fiber.await(logWriter)
    })
  )

  return {
    address,
    authMode: verifier.mode,
    sessions: started.stream,
    // one reader over every session's buffer: no fiber, queue or hand-over per session on the way
    events: Stream.suspend(() => new MergedBuffers(started, (session) => session.buffer, MAX_CHUNK).stream),
    health: Effect.sync(health),
    metrics: Effect.sync(metrics)
  }
})
