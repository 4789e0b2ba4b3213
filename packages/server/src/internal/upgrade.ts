import type * as Http from "node:http"
import type * as Net from "node:net"
import type { WebSocket, WebSocketServer } from "ws"
import * as ServerMetrics from "../ServerMetrics.js"
import type * as UpgradeAuth from "../UpgradeAuth.js"
import type { Admission } from "./admission.js"
import * as Counters from "./counters.js"
import { guarded } from "./defence.js"
import { rawResponse } from "./http.js"
import type { Log } from "./log.js"

/** What an upgrade goes through before it becomes a connection. */
export interface Gate {
  readonly path: string
  readonly verifier: UpgradeAuth.Verifier
  readonly admission: Admission
  readonly wss: WebSocketServer
  readonly now: () => number
  readonly shuttingDown: () => boolean
  readonly accept: (ws: WebSocket, request: Http.IncomingMessage) => void
  readonly log: Log
}

/**
 * The socket's error listener for its whole life: a plain function, so that it keeps nothing of the upgrade alive
 * (a closure here would hold the request, headers and all, for as long as the connection lasts).
 */
function destroyOnError(this: Net.Socket): void {
  this.destroy()
}

/**
 * Handles an upgrade request, in this order: 503 while shutting down, 404 off the websocket path, 503 over a
 * connection limit (before authentication, so a refused upgrade spends no signature id), 401 when authentication
 * fails; then the websocket handshake. Every refusal is counted and logged; nothing here can throw.
 */
export const handler = (gate: Gate) => {
  let forgottenEarly = 0

  const verify = (request: Http.IncomingMessage, remote: string | undefined): boolean => {
    const verdict = gate.verifier.verify({ url: request.url ?? "/", headers: request.headers }, gate.now())
    const memory = gate.verifier.memory()
    ServerMetrics.rememberedIds.unsafeUpdate(memory.remembered, Counters.NO_TAGS)
    if (memory.forgottenEarly > forgottenEarly) {
      for (; forgottenEarly < memory.forgottenEarly; forgottenEarly++) Counters.limitReached("remembered_ids")
      gate.log("Warning", "Signature ids forgotten before going stale: raise maxRememberedIds", {
        remembered: memory.remembered,
        forgottenEarly
      })
    }
    if (verdict._tag === "Right") return true
    Counters.authFailuresBy(verdict.left).unsafeUpdate(1, Counters.NO_TAGS)
    gate.log("Warning", "Upgrade rejected: authentication failed", { remote, reason: verdict.left })
    return false
  }

  return (request: Http.IncomingMessage, socket: Net.Socket, head: Buffer): void => {
    // a peer may reset at any point of the handshake: no socket error may go unhandled
    socket.on("error", destroyOnError)
    guarded(gate.log, "upgrade", () => {
      const remote = socket.remoteAddress
      if (gate.shuttingDown()) return rawResponse(socket, 503, "Service Unavailable")
      if ((request.url ?? "/").split("?")[0] !== gate.path) return rawResponse(socket, 404, "Not Found")
      const limit = gate.admission.check(remote)
      if (limit !== undefined) {
        Counters.limitReached(limit)
        gate.log("Warning", "Upgrade refused: connection limit reached", {
          remote,
          limit,
          max: limit === "connections"
            ? gate.admission.options.maxConnections
            : gate.admission.options.maxConnectionsPerAddress
        })
        return rawResponse(socket, 503, "Service Unavailable")
      }
      if (!verify(request, remote)) return rawResponse(socket, 401, "Unauthorized")
      gate.wss.handleUpgrade(request, socket, head, (ws) => gate.accept(ws, request))
    }, () => socket.destroy())
  }
}
