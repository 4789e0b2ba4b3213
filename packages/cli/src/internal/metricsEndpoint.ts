/**
 * A small HTTP server for a process that has no websocket server of its own to answer `/metrics` (`callstream
 * worker`): the routes `serve` answers on its own port (`HttpProbes`): `GET /metrics`, every `callstream_*` metric in
 * the Prometheus text format, and `GET /healthz`, a line of JSON saying the process runs. Anything else is 404. It
 * lives in a `Scope`: closing it stops listening and ends its connections.
 *
 * @internal
 */
import { HttpProbes, ServerMetrics } from "@callstream/server"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { SettingsError } from "./settingsError.js"

/** Where to listen. */
export interface Address {
  readonly host: string
  /** 0 for any free port. */
  readonly port: number
}

/** The URL of `/metrics` on a server listening at `address` (IPv6 hosts in brackets). */
export const metricsUrl = (address: Address): string =>
  `http://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}/metrics`

/**
 * Listens at `address` for the life of the scope and gives the address it listens at (the port chosen, for port
 * 0). A port in use, or an address that is not this machine's, is a `SettingsError` saying which.
 */
export const serve = (
  address: Address,
  health: () => Record<string, string | number>
): Effect.Effect<Address, SettingsError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Http.Server & { readonly bound: Address }, SettingsError>((resume) => {
      const probes: HttpProbes.Probes = {
        health: () => ({ status: "ok", ...health() }),
        metrics: () => Effect.runSync(ServerMetrics.prometheus)
      }
      const server = Http.createServer((request, response) => {
        try {
          if (!HttpProbes.answer(probes, request, response)) HttpProbes.send(response, 404, "text/plain", "Not Found")
        } catch {
          if (response.headersSent) response.destroy()
          else HttpProbes.send(response, 500, "text/plain", "Internal Server Error")
        }
      })
      const failed = (error: NodeJS.ErrnoException) =>
        resume(Effect.fail(
          new SettingsError({
            reason: error.code === "EADDRINUSE" ? "PortInUse" : "InvalidPort",
            message: error.code === "EADDRINUSE"
              ? `--metrics-port ${address.port} on ${address.host} is already in use: choose another (0 picks a free one)`
              : `--metrics-host ${address.host} --metrics-port ${address.port}: cannot listen there (${
                error.code ?? error.message
              })`
          })
        ))
      server.once("error", failed)
      server.listen(address.port, address.host, () => {
        server.off("error", failed)
        const bound = server.address() as AddressInfo
        resume(Effect.succeed(Object.assign(server, { bound: { host: address.host, port: bound.port } })))
      })
      return Effect.sync(() => server.close())
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(Effect.map((server) => server.bound))
