import * as Crypto from "node:crypto"
import type * as Http from "node:http"
import type { WebSocket } from "ws"
import type { Admission } from "./admission.js"
import { guarded } from "./defence.js"
import type { Log } from "./log.js"
import type { Router } from "./router.js"
import { Connection } from "./state.js"
import type { Tracing } from "./tracing.js"

/** What a connection's lifetime touches. */
export interface Lifecycle {
  readonly router: Router
  readonly admission: Admission
  readonly now: () => number
  readonly log: Log
  readonly shuttingDown: () => boolean
  /** Told after each connection closed (shutdown waits for the last one). */
  readonly closed: () => void
  /** Spans for connections, when tracing is on. */
  readonly tracing?: Tracing | undefined
}

/** The close code this server sends for a protocol error `ws` reported (the peer's own code is then 1006). */
const closeFor = (code: string | undefined): { readonly code: number; readonly reason: string } | undefined =>
  code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"
    ? { code: 1009, reason: "message too big" }
    : code === "WS_ERR_INVALID_UTF8"
    ? { code: 1007, reason: "invalid UTF-8" }
    : code?.startsWith("WS_ERR_") === true
    ? { code: 1002, reason: "protocol error" }
    : undefined

/**
 * Makes a websocket that passed the upgrade a connection: counted, routed frame by frame, its pongs noted, its
 * close reported to every session it fed. Every listener is plain and total: frames go through the router (which
 * never throws) and the rest through {@link guarded}.
 */
export const accept = (lifecycle: Lifecycle) => (ws: WebSocket, request: Http.IncomingMessage): void => {
  const { log, router } = lifecycle
  const remote = request.socket.remoteAddress
  const connection = new Connection(Crypto.randomUUID(), ws, remote, lifecycle.now())
  lifecycle.admission.opened(remote)
  router.opened(connection)
  lifecycle.tracing?.connectionOpened(connection)
  log("Debug", "Connection opened", { connection: connection.id, remote })

  ws.on("message", (data: Buffer) => router.frame(connection, data))
  ws.on("pong", () => {
    connection.alive = true
  })
  // the code this server closed with, when a protocol error made it close
  let closedWith: { readonly code: number; readonly reason: string } | undefined
  ws.on("error", (error: Error & { code?: string }) =>
    guarded(log, "error", () => {
      closedWith = closeFor(error.code)
      log("Warning", "Connection error", { connection: connection.id, code: error.code, error: error.message })
    }))
  ws.on("close", (code: number, reason: Buffer) =>
    guarded(log, "close", () => {
      const closed = closedWith ?? { code, reason: reason.toString("utf8") }
      lifecycle.admission.closed(remote)
      router.closed(connection, closed.code, closed.reason, lifecycle.shuttingDown())
      lifecycle.tracing?.connectionClosed(connection, closed.code, closed.reason)
      log("Debug", "Connection closed", { connection: connection.id, code: closed.code, reason: closed.reason })
      lifecycle.closed()
    }))
}
