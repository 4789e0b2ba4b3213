/**
 * The `callstream` command's building blocks that a program of its own can reuse.
 *
 * @since 0.2.0
 */
import * as Telemetry from "./Telemetry.js"

export {
  /**
   * OpenTelemetry traces over OTLP/HTTP as one Layer, empty when no endpoint is given.
   *
   * @since 0.2.0
   * @category observability
   */
  Telemetry
}
