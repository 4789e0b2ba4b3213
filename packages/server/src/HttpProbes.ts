/**
 * The two plain HTTP routes every long-running callstream process answers: `GET /healthz` (JSON: 200 while it runs,
 * 503 once it is shutting down, so a load balancer stops sending it new work) and `GET /metrics` (Prometheus text).
 * `RecallServer` answers them beside its websocket path; `callstream worker` on its `--metrics-port`.
 *
 * @since 0.2.0
 */
import type * as Http from "node:http"

/**
 * What the routes answer with.
 *
 * @since 0.2.0
 * @category models
 */
export interface Probes {
  /** The body of `/healthz`: its `status` decides the status code; the other fields are shown as they are. */
  readonly health: () => { readonly status: "ok" | "shutting_down" }
  /** The body of `/metrics`, in the Prometheus text exposition format. */
  readonly metrics: () => string
}

/**
 * Sends a whole response with its length.
 *
 * @since 0.2.0
 * @category responses
 */
export const send = (response: Http.ServerResponse, status: number, type: string, body: string): void => {
  response.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) })
  response.end(body)
}

/**
 * Answers `request` when it is `GET /healthz` or `GET /metrics` (a query string is ignored) and returns true;
 * returns false, having sent nothing, for anything else.
 *
 * @since 0.2.0
 * @category responses
 */
export const answer = (probes: Probes, request: Http.IncomingMessage, response: Http.ServerResponse): boolean => {
  if (request.method !== "GET") return false
  const pathname = (request.url ?? "/").split("?")[0]
  if (pathname === "/healthz") {
    const health = probes.health()
    send(response, health.status === "ok" ? 200 : 503, "application/json", JSON.stringify(health))
    return true
  }
  if (pathname === "/metrics") {
    send(response, 200, "text/plain; version=0.0.4; charset=utf-8", probes.metrics())
    return true
  }
  return false
}
