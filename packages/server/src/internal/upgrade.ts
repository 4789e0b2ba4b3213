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
import type { Tracing, UpgradeOutcome } from "./tracing.js"

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
  /** Spans for upgrades, when tracing is on. */
  readonly tracing?: Tracing | undefined
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

  /** Why authentication failed, or `undefined` when it passed. */
  const verify = (request: Http.IncomingMessage, remote: string | undefined): UpgradeAuth.Failure | undefined => {
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
    if (verdict._tag === "Right") return undefined
    Counters.authFailuresBy(verdict.left).unsafeUpdate(1, Counters.NO_TAGS)
    gate.log("Warning", "Upgrade rejected: authentication failed", { remote, reason: verdict.left })
    return verdict.left
  }

  /** Answers or completes one upgrade, and says what became of it. */
  const admit = (request: Http.IncomingMessage, socket: Net.Socket, head: Buffer): Admitted => {
    const remote = socket.remoteAddress
    if (gate.shuttingDown()) return refused(socket, 503, "Service Unavailable", "shutting_down")
    if ((request.url ?? "/").split("?")[0] !== gate.path) return refused(socket, 404, "Not Found", "not_found")
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
      return { ...refused(socket, 503, "Service Unavailable", "over_limit"), limit }
    }
    const failure = verify(request, remote)
    if (failure !== undefined) return { ...refused(socket, 401, "Unauthorized", "unauthorized"), reason: failure }
    let accepted = false
    // `ws` completes (or refuses) the handshake before this returns
    gate.wss.handleUpgrade(request, socket, head, (ws) => {
      accepted = true
      gate.accept(ws, request)
    })
    return { outcome: accepted ? "accepted" : "handshake_failed" }
  }

  return (request: Http.IncomingMessage, socket: Net.Socket, head: Buffer): void => {
    // a peer may reset at any point of the handshake: no socket error may go unhandled
    socket.on("error", destroyOnError)
    gate.tracing?.upgradeStarted(socket.remoteAddress)
    let admitted: Admitted = { outcome: "failed" }
    guarded(gate.log, "upgrade", () => void (admitted = admit(request, socket, head)), () => socket.destroy())
    gate.tracing?.upgradeEnded(admitted.outcome, admitted)
  }
}

interface Admitted {
  readonly outcome: UpgradeOutcome
  readonly reason?: string
  readonly limit?: string
}

const refused = (socket: Net.Socket, status: number, text: string, outcome: UpgradeOutcome): Admitted => {
  rawResponse(socket, status, text)
  return { outcome }
}
