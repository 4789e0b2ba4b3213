import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { guarded } from "./defence.js"
import type { Log } from "./log.js"
import type { Router } from "./router.js"

/**
 * One heartbeat round: a connection that has shown no sign of life (a frame or a pong) since the last round is
 * terminated; every other one is pinged. A paused socket reads nothing, pongs included: it is held back by this
 * server, not dead, so it is skipped.
 */
export const round = (router: Router, log: Log): void => {
  for (const connection of router.connections) {
    if (connection.pausedBy > 0) continue
    guarded(log, "heartbeat", () => {
      if (!connection.alive) {
        log("Warning", "Connection missed a heartbeat: closing it", { connection: connection.id })
        connection.socket.terminate()
        return
      }
      connection.alive = false
      connection.socket.ping()
    })
  }
}

/** Runs a round every `intervalMs` on the Effect clock (so `TestClock` drives it), until interrupted. */
export const run = (router: Router, intervalMs: number, log: Log): Effect.Effect<void> => {
  const interval = Duration.millis(intervalMs)
  return Effect.sync(() => round(router, log)).pipe(
    Effect.repeat(Schedule.spaced(interval)),
    Effect.delay(interval),
    Effect.asVoid
  )
}
