/**
 * The websocket server Recall's bots connect to, as an Effect Layer that provides core's `EventSource`, with its
 * authentication and metrics; and a client that sends tapes to it as Recall would, for tests and demos.
 *
 * In tests, `RecallServer.layerTest()` is a real server on a free port that accepts unauthenticated upgrades, and
 * `RecallSimulator` feeds it.
 *
 * @since 0.1.0
 */
import * as HttpProbes from "./HttpProbes.js"
import * as RecallServer from "./RecallServer.js"
import * as RecallSimulator from "./RecallSimulator.js"
import * as ServerMetrics from "./ServerMetrics.js"
import * as TurnScheduler from "./TurnScheduler.js"
import * as UpgradeAuth from "./UpgradeAuth.js"

export {
  /**
   * `GET /healthz` and `GET /metrics` as every long-running callstream process answers them, for a process of your
   * own that has no `RecallServer` to answer them.
   *
   * @since 0.2.0
   * @category server
   */
  HttpProbes,
  /**
   * The server as a Layer: authenticated upgrades, one session per meeting however many connections feed it, its
   * events as Streams, `GET /healthz` and `GET /metrics`, graceful shutdown.
   *
   * @since 0.1.0
   * @category server
   */
  RecallServer,
  /**
   * For tests and demos: replays a tape to a websocket URL as Recall's bot would (retries, reconnects), with faults
   * on demand (drops, duplicates, reordering, binary frames).
   *
   * @since 0.1.0
   * @category testing
   */
  RecallSimulator,
  /**
   * The server's metrics (`callstream_*`) as Effect `Metric`s, and their Prometheus text.
   *
   * @since 0.1.0
   * @category server
   */
  ServerMetrics,
  /**
   * An Effect `Scheduler` that gives fibers a few milliseconds of each event-loop turn, so a busy server still
   * accepts connections and answers pings (`Effect.withScheduler(TurnScheduler.make())`).
   *
   * @since 0.2.0
   * @category server
   */
  TurnScheduler,
  /**
   * How an upgrade proves it comes from Recall: query tokens, signed upgrades (Standard Webhooks), or both.
   *
   * @since 0.1.0
   * @category server
   */
  UpgradeAuth
}
