import * as Decoder from "@callstream/core/Decoder"
import type * as ServerMetrics from "../ServerMetrics.js"
import * as Counters from "./counters.js"
import type { Log } from "./log.js"

/**
 * The last line of defence around a socket or HTTP callback: whatever `f` throws is counted and logged instead of
 * reaching Node's event loop, where it would end the process and every meeting with it.
 */
export const guarded = (
  log: Log,
  callback: typeof ServerMetrics.callbacks[number],
  f: () => void,
  onFailure?: (cause: unknown) => void
): void => {
  try {
    f()
  } catch (cause) {
    Counters.internalError(callback)
    log("Error", "Unexpected failure in a callback", { callback, error: Decoder.internalError(cause, 0).issue })
    if (onFailure !== undefined) {
      try {
        onFailure(cause)
      } catch {
        // the clean-up failed too: what it guards is already counted and logged
      }
    }
  }
}
