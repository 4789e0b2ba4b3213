import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { guarded } from "./defence.js"
import type { Log } from "./log.js"
import type { Router } from "./router.js"
import type { Connection } from "./state.js"

/**
 * A heartbeat round is spread over this many ticks of its interval: each tick visits the connections of one slot.
 * Pinging every connection in one go blocked the event loop for as long as a thousand socket writes take, and a
 * thousand pongs came back together: at 1,000 bots, most of the pings a bot measured at 15 ms or more fell on that
 * instant.
 */
export const SLICES = 10

// the slot of a connection: from its id (a random UUID), so the slots fill evenly and a connection keeps its own
// (an id that does not start with hex digits goes in the first)
const slotOf = (connection: Connection): number => (Number.parseInt(connection.id.slice(0, 8), 16) || 0) % SLICES

/**
 * One tick of the heartbeat: each connection of `slot` that has shown no sign of life (a frame or a pong) since it
 * was last visited, one interval ago, is terminated; every other one is pinged. A paused socket reads nothing,
 * pongs included: it is held back by this server, not dead, so it is skipped.
 */
export const tick = (router: Router, slot: number, log: Log): void => {
  for (const connection of router.connections) {
    if (connection.pausedBy > 0 || slotOf(connection) !== slot) continue
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

/**
 * Visits each connection every `intervalMs`, a `SLICES`th of them every `intervalMs / SLICES`, on the Effect clock
 * (so `TestClock` drives it), until interrupted.
 */
export const run = (router: Router, intervalMs: number, log: Log): Effect.Effect<void> => {
  const step = Duration.millis(intervalMs / SLICES)
  let ticks = 0
  return Effect.sync(() => tick(router, ticks++ % SLICES, log)).pipe(
    Effect.repeat(Schedule.spaced(step)),
    Effect.delay(step),
    Effect.asVoid
  )
}
