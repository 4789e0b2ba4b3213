import type * as Http from "node:http"
import type * as Net from "node:net"
import { guarded } from "./defence.js"
import type { Log } from "./log.js"

/** What the plain HTTP routes answer with. */
export interface Routes {
  /** The websocket path: a plain GET there gets 426. */
  readonly path: string
  readonly health: () => { readonly status: "ok" | "shutting_down" }
  readonly metrics: () => string
  readonly log: Log
}

const send = (response: Http.ServerResponse, status: number, type: string, body: string): void => {
  response.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) })
  response.end(body)
}

/**
 * `GET /healthz` (JSON; 503 once shutting down, so a load balancer stops sending new meetings), `GET /metrics`
 * (Prometheus text), 426 on the websocket path, 404 elsewhere.
 */
export const handler = (routes: Routes) => (request: Http.IncomingMessage, response: Http.ServerResponse): void =>
  guarded(routes.log, "request", () => {
    const pathname = (request.url ?? "/").split("?")[0]
    if (request.method === "GET" && pathname === "/healthz") {
      const health = routes.health()
      send(response, health.status === "ok" ? 200 : 503, "application/json", JSON.stringify(health))
    } else if (request.method === "GET" && pathname === "/metrics") {
      send(response, 200, "text/plain; version=0.0.4; charset=utf-8", routes.metrics())
    } else if (pathname === routes.path) {
      response.setHeader("connection", "close")
      send(response, 426, "text/plain", "Upgrade Required")
    } else {
      send(response, 404, "text/plain", "Not Found")
    }
  }, () => {
    if (response.headersSent) response.destroy()
    else send(response, 500, "text/plain", "Internal Server Error")
  })

/** Answers an upgrade request on its raw socket (no websocket was made) and closes it. */
export const rawResponse = (socket: Net.Socket, status: number, text: string): void => {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${
      Buffer.byteLength(text)
    }\r\n\r\n${text}`
  )
}
