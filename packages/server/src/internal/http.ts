import type * as Http from "node:http"
import type * as Net from "node:net"
import * as HttpProbes from "../HttpProbes.js"
import { guarded } from "./defence.js"
import type { Log } from "./log.js"

/** What the plain HTTP routes answer with. */
export interface Routes extends HttpProbes.Probes {
  /** The websocket path: a plain GET there gets 426. */
  readonly path: string
  readonly log: Log
}

/**
 * `GET /healthz` and `GET /metrics` (see `HttpProbes`), 426 on the websocket path, 404 elsewhere.
 */
export const handler = (routes: Routes) => (request: Http.IncomingMessage, response: Http.ServerResponse): void =>
  guarded(routes.log, "request", () => {
    if (HttpProbes.answer(routes, request, response)) return
    if ((request.url ?? "/").split("?")[0] === routes.path) {
      response.setHeader("connection", "close")
      HttpProbes.send(response, 426, "text/plain", "Upgrade Required")
    } else {
      HttpProbes.send(response, 404, "text/plain", "Not Found")
    }
  }, () => {
    if (response.headersSent) response.destroy()
    else HttpProbes.send(response, 500, "text/plain", "Internal Server Error")
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
