import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Telemetry from "../src/Telemetry.js"

interface Received {
  readonly method: string
  readonly url: string
  readonly contentType: string
  readonly body: string
}

/** A real OTLP/HTTP endpoint on a free port: it answers every POST with 200 and keeps what it received. */
const collector = Effect.acquireRelease(
  Effect.async<{ readonly base: string; readonly received: Array<Received>; readonly server: http.Server }>(
    (resume) => {
      const received: Array<Received> = []
      const server = http.createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          received.push({
            method: request.method ?? "",
            url: request.url ?? "",
            contentType: String(request.headers["content-type"] ?? ""),
            body: Buffer.concat(chunks).toString("utf8")
          })
          response.writeHead(200, { "content-type": "application/json" })
          response.end("{}")
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ base: `http://127.0.0.1:${port}`, received, server }))
      })
    }
  ),
  (endpoint) =>
    Effect.async<void>((resume) => {
      endpoint.server.close(() => resume(Effect.void))
    })
)

interface OtlpValue {
  readonly stringValue?: string
  readonly intValue?: number | string
}
interface OtlpAttribute {
  readonly key: string
  readonly value: OtlpValue
}
interface OtlpExport {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<OtlpAttribute> }
    readonly scopeSpans: ReadonlyArray<{
      readonly spans: ReadonlyArray<{ readonly name: string; readonly attributes: ReadonlyArray<OtlpAttribute> }>
    }>
  }>
}

const attribute = (attributes: ReadonlyArray<OtlpAttribute>, key: string): OtlpValue | undefined =>
  attributes.find((a) => a.key === key)?.value

describe("Telemetry", () => {
  it("derives the traces URL from an OTLP base endpoint as the exporters do", () => {
    assert.strictEqual(Telemetry.tracesUrl("http://collector:4318"), "http://collector:4318/v1/traces")
    assert.strictEqual(Telemetry.tracesUrl("http://collector:4318/"), "http://collector:4318/v1/traces")
    assert.strictEqual(Telemetry.tracesUrl("https://otel.example/otlp"), "https://otel.example/otlp/v1/traces")
    assert.strictEqual(Telemetry.tracesUrl("http://collector:4318/v1/traces"), "http://collector:4318/v1/traces")
    for (const bad of ["collector:4318", "", "ftp://collector", "redis://collector:6379"]) {
      assert.isUndefined(Telemetry.tracesUrl(bad), bad)
    }
  })

  it.effect("without an endpoint the layer is empty and the tracer stays the one already installed", () =>
    Effect.gen(function*() {
      const layer = Telemetry.layer({ endpoint: Option.none(), serviceName: "callstream" })
      assert.strictEqual(layer, Layer.empty)
      const outside = yield* Effect.tracer
      const inside = yield* Effect.tracer.pipe(Effect.provide(layer))
      assert.strictEqual(inside, outside)
    }))

  it.live("exports the spans of a program to <endpoint>/v1/traces over OTLP/HTTP with the service's name and version", () =>
    Effect.scoped(Effect.gen(function*() {
      const endpoint = yield* collector
      const layer = Telemetry.layer({ endpoint: Option.some(`${endpoint.base}/otlp`), serviceName: "callstream-test" })
      const outside = yield* Effect.tracer
      const inside = yield* Effect.tracer.pipe(
        Effect.tap(() => Effect.void.pipe(Effect.withSpan("callstream.test", { attributes: { "callstream.n": 7 } }))),
        Effect.provide(layer)
      )
      assert.notStrictEqual(inside, outside, "an endpoint installs a tracer of its own")
      // Closing the layer's scope flushed the batch: the request has arrived by now.
      const posts = endpoint.received.filter((r) => r.method === "POST")
      assert.lengthOf(posts, 1)
      assert.strictEqual(posts[0].url, "/otlp/v1/traces")
      assert.strictEqual(posts[0].contentType, "application/json")
      const exported = JSON.parse(posts[0].body) as OtlpExport
      const resource = exported.resourceSpans[0].resource.attributes
      assert.strictEqual(attribute(resource, "service.name")?.stringValue, "callstream-test")
      assert.match(attribute(resource, "service.version")?.stringValue ?? "", /^\d+\.\d+\.\d+/)
      const spans = exported.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
      const span = spans.find((s) => s.name === "callstream.test")
      assert.isDefined(span)
      assert.strictEqual(Number(attribute(span!.attributes, "callstream.n")?.intValue), 7)
    })))

  it.effect("an endpoint that is not an http(s) URL fails when the layer is built, without echoing it", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.void.pipe(
        Effect.provide(Telemetry.layer({ endpoint: Option.some("collector:hunter2@4318"), serviceName: "x" })),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit) && Exit.isInterrupted(exit) === false)
      assert.notInclude(String(exit), "hunter2")
    }))
})
