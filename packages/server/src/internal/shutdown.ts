import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Http from "node:http"
import type { WebSocketServer } from "ws"
import type { EventBuffer } from "./buffer.js"
import type { Router } from "./router.js"
import type { SessionState } from "./state.js"

/** What shutdown closes. */
export interface Parts {
  readonly router: Router
  readonly server: Http.Server
  readonly wss: WebSocketServer
  readonly started: EventBuffer<SessionState>
  readonly deadlineMs: number
}

/**
 * Graceful shutdown. While it runs the listener stays open, so health checks see `shutting_down` (503) and new
 * upgrades get 503; open connections are closed with 1001 and given until the deadline, then cut. Every session
 * then ends with `SessionEnded("shutdown")`, and the listener closes.
 */
export class Shutdown {
  active = false
  private allClosed: (() => void) | undefined = undefined

  /** A connection closed: wakes a shutdown that waits for the last one. */
  readonly connectionClosed = (open: number): void => {
    if (this.active && open === 0) this.allClosed?.()
  }

  run(parts: Parts): Effect.Effect<void> {
    const { router } = parts
    return Effect.gen(this, function*() {
      this.active = true
      yield* Effect.logInfo("Shutting down: closing connections")
      router.resumeAll()
      const open = Array.from(router.connections)
      if (open.length > 0) {
        const allClosed = Effect.async<void>((resume) => {
          this.allClosed = () => resume(Effect.void)
          for (const connection of open) connection.socket.close(1001, "server shutting down")
          if (router.connections.size === 0) resume(Effect.void)
        })
        // a finalizer runs uninterruptibly: the wait must be made interruptible, or the deadline could not cut it
        const clean = yield* Effect.timeout(Effect.interruptible(allClosed), Duration.millis(parts.deadlineMs)).pipe(
          Effect.option
        )
        if (Option.isNone(clean)) {
          yield* Effect.logWarning("Shutdown deadline passed: cutting the remaining connections").pipe(
            Effect.annotateLogs("connections", router.connections.size)
          )
          for (const connection of Array.from(router.connections)) {
            // recorded first: the close `terminate` emits later finds the connection closed already
            router.closed(connection, 1006, "terminated at shutdown", true)
            connection.socket.terminate()
          }
        }
      }
      router.endAll("shutdown")
      parts.started.end()
      parts.server.close()
      parts.server.closeAllConnections()
      parts.wss.close()
    })
  }
}
