/**
 * OpenTelemetry traces for `callstream serve` and `callstream worker`: when an OTLP endpoint is given (`--otel URL`
 * or `OTEL_EXPORTER_OTLP_ENDPOINT`), the spans the server and the recorder make (`callstream.upgrade`,
 * `callstream.connection`, `callstream.session`, `callstream.recorder.flush`) are batched and sent over OTLP/HTTP
 * (JSON) to `<endpoint>/v1/traces`, tagged with the service's name and version. Without an endpoint the layer is
 * empty: no tracer is installed, and the server makes no spans at all.
 *
 * @example
 * ```ts
 * import { Telemetry } from "@callstream/cli"
 * import * as Effect from "effect/Effect"
 * import * as Option from "effect/Option"
 *
 * const program = Effect.void.pipe(Effect.withSpan("callstream.example"))
 *
 * // No endpoint: nothing is exported and nothing is installed.
 * Effect.runPromise(
 *   program.pipe(Effect.provide(Telemetry.layer({ endpoint: Option.none(), serviceName: "callstream" })))
 * )
 *
 * // With a collector listening for OTLP/HTTP on 4318, spans go to http://localhost:4318/v1/traces.
 * export const traced = program.pipe(
 *   Effect.provide(Telemetry.layer({ endpoint: Option.some("http://localhost:4318"), serviceName: "callstream" }))
 * )
 * ```
 *
 * @since 0.2.0
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { createRequire } from "node:module"

/**
 * Where traces go.
 *
 * @since 0.2.0
 * @category models
 */
export interface TelemetryOptions {
  /**
   * The OTLP/HTTP base endpoint, as `OTEL_EXPORTER_OTLP_ENDPOINT` gives it (`http://collector:4318`): spans are
   * posted to its `/v1/traces`. A URL that already ends in `/v1/traces` is used as it is. None turns tracing off.
   */
  readonly endpoint: Option.Option<string>
  /** The `service.name` resource attribute. */
  readonly serviceName: string
}

const tracesPath = "v1/traces"

/**
 * The URL spans are posted to for an OTLP base endpoint, as the OpenTelemetry exporters derive it from
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended), or `undefined` when the endpoint is not an http(s) URL.
 *
 * @since 0.2.0
 * @category urls
 */
export const tracesUrl = (endpoint: string): string | undefined => {
  let parsed: URL
  try {
    parsed = new URL(endpoint)
  } catch {
    return undefined
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return undefined
  if (parsed.pathname.endsWith(`/${tracesPath}`)) return parsed.href
  parsed.pathname = parsed.pathname.endsWith("/")
    ? `${parsed.pathname}${tracesPath}`
    : `${parsed.pathname}/${tracesPath}`
  return parsed.href
}

/** The version of this package, read once (the file sits one level below package.json in `src/` and in `dist/`). */
const packageVersion = (): string | undefined => {
  try {
    const manifest = createRequire(import.meta.url)("../package.json") as { readonly version?: unknown }
    return typeof manifest.version === "string" ? manifest.version : undefined
  } catch {
    return undefined
  }
}

/**
 * Installs an OpenTelemetry tracer that batches spans and exports them over OTLP/HTTP, or nothing when
 * `endpoint` is None. Spans still in the batch are flushed when the layer's scope closes (at most 3 s). An
 * endpoint that is not an http(s) URL is a defect raised when the layer is built.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: TelemetryOptions): Layer.Layer<never> =>
  Option.match(options.endpoint, {
    onNone: () => Layer.empty,
    onSome: (endpoint) =>
      Layer.unwrapEffect(Effect.gen(function*() {
        const url = tracesUrl(endpoint)
        if (url === undefined) {
          // The text is not echoed: an endpoint may carry credentials.
          return yield* Effect.dieMessage("The OpenTelemetry endpoint is not an http(s) URL")
        }
        const serviceVersion = packageVersion()
        const sdk = NodeSdk.layer(() => ({
          resource: serviceVersion === undefined
            ? { serviceName: options.serviceName }
            : { serviceName: options.serviceName, serviceVersion },
          spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url }))
        }))
        return Layer.discard(sdk)
      }))
  })
