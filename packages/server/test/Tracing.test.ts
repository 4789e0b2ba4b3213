import { Fixtures } from "@callstream/core"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { RecallServer, RecallSimulator, UpgradeAuth } from "../src/index.js"
import { eventually, fast, upgradeStatus } from "./helpers.js"

const TOKEN = "tok-8f3a1c9e5d7b"
const WRONG_TOKEN = "tok-wrong-4e2a9b"
const KEY = Buffer.from("a tracing test key of 32 bytes!!").toString("base64")
const SECRET = Redacted.make(`whsec_${KEY}`)

// a short meeting: audio and transcript alternating, one message every 100 ms of meeting time
const meeting = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    at: i / 10,
    message: i % 2 === 0 ? Fixtures.audio({ at: i / 10 }) : Fixtures.transcript(`word ${i}`, { at: i / 10 })
  }))

/** An in-memory exporter that keeps its spans after the tracer shuts down with the server's scope. */
class KeptSpans extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/**
 * A real server on 127.0.0.1 with a token and a signing secret, under an OpenTelemetry tracer that keeps every
 * finished span in memory, composed as an application would: the tracer's layer provided to the server's.
 */
const startTraced = (options: RecallServer.Options = {}) =>
  Effect.gen(function*() {
    const exporter = new KeptSpans()
    const tracing = NodeSdk.layer(() => ({
      resource: { serviceName: "callstream-test" },
      spanProcessor: new SimpleSpanProcessor(exporter)
    }))
    const layer = RecallServer.layerTest({
      tokens: [Redacted.make(TOKEN)],
      signingSecret: SECRET,
      // long enough for the simulator to reconnect after a drop on a busy machine, short enough to wait for
      sessionTimeout: "2 seconds",
      ...options
    }).pipe(Layer.provide(tracing), Layer.provide(Logger.minimumLogLevel(LogLevel.None)))
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(layer, scope)
    const server = Context.get(context, RecallServer.RecallServer)
    return { server, exporter, shutdown: Scope.close(scope, Exit.void) }
  })

const named = (spans: ReadonlyArray<ReadableSpan>, name: string) => spans.filter((span) => span.name === name)
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

describe("tracing", () => {
  it.live("spans an upgrade, a connection and a session, parent to child, with no secret in them", () =>
    Effect.gen(function*() {
      const { exporter, server, shutdown } = yield* startTraced()
      const url = `${server.address.url}?token=${TOKEN}`
      // a meeting whose connection drops once: the bot reconnects and the session goes on
      const result = yield* RecallSimulator.replay(meeting(30), {
        url,
        signingSecret: SECRET,
        ...fast,
        drops: [{ atIndex: 10, lose: 5 }]
      })
      assert.strictEqual(result.connections, 2)
      // a wrong token, correctly signed: refused with 401
      const signed = UpgradeAuth.signedHeaders(SECRET, { id: "msg_wrong", timestamp: Math.floor(Date.now() / 1000) })
      assert.strictEqual(yield* upgradeStatus(`${server.address.url}?token=${WRONG_TOKEN}`, signed), 401)
      // the session ends once no connection came back within the timeout
      yield* eventually(() => named(exporter.getFinishedSpans(), "callstream.session").length === 1)
      yield* shutdown
      const spans = exporter.getFinishedSpans()

      const upgrades = named(spans, "callstream.upgrade")
      assert.lengthOf(upgrades, 3)
      const accepted = upgrades.filter((span) => span.attributes["callstream.upgrade.outcome"] === "accepted")
      assert.lengthOf(accepted, 2)
      for (const span of accepted) {
        assert.strictEqual(span.attributes["http.response.status_code"], 101)
        assert.strictEqual(span.attributes["callstream.auth.mode"], "both")
        assert.strictEqual(span.attributes["client.address"], "127.0.0.1")
        assert.strictEqual(span.status.code, SpanStatusCode.OK)
        assert.isUndefined(parentOf(span), "each upgrade starts a trace")
        assert.strictEqual(span.kind, SpanKind.SERVER)
      }
      const [rejected] = upgrades.filter((span) => span.attributes["callstream.upgrade.outcome"] === "unauthorized")
      assert.isDefined(rejected)
      assert.strictEqual(rejected!.attributes["http.response.status_code"], 401)
      assert.strictEqual(rejected!.attributes["callstream.auth.failure"], "invalid")
      assert.strictEqual(rejected!.status.code, SpanStatusCode.ERROR)
      assert.include(rejected!.status.message ?? "", "unauthorized")

      const connections = named(spans, "callstream.connection")
      assert.lengthOf(connections, 2)
      for (const connection of connections) {
        const parent = parentOf(connection)
        assert.isTrue(accepted.some((u) => u.spanContext().spanId === parent), "a connection is its upgrade's child")
        assert.strictEqual(connection.attributes["client.address"], "127.0.0.1")
        assert.strictEqual(connection.kind, SpanKind.INTERNAL, "the server span is the upgrade")
        assert.isString(connection.attributes["callstream.connection.id"])
      }
      const dropped = connections.find((span) => span.attributes["websocket.close.code"] === 1006)
      const ended = connections.find((span) => span.attributes["websocket.close.code"] === 1000)
      assert.isDefined(dropped)
      assert.isDefined(ended)
      assert.strictEqual(dropped!.status.code, SpanStatusCode.ERROR)
      assert.strictEqual(ended!.status.code, SpanStatusCode.OK)
      assert.strictEqual(ended!.attributes["websocket.close.reason"], "meeting ended")

      const [session] = named(spans, "callstream.session")
      assert.strictEqual(parentOf(session!), dropped!.spanContext().spanId, "the connection that started it")
      assert.strictEqual(session!.spanContext().traceId, dropped!.spanContext().traceId)
      assert.deepStrictEqual(session!.links.map((link) => link.context.spanId), [ended!.spanContext().spanId])
      assert.strictEqual(session!.attributes["callstream.session.key"], Fixtures.BOT_ID)
      assert.strictEqual(session!.attributes["callstream.bot.id"], Fixtures.BOT_ID)
      assert.strictEqual(session!.attributes["callstream.recording.id"], Fixtures.RECORDING_ID)
      assert.strictEqual(session!.attributes["callstream.session.end_reason"], "timeout")
      assert.strictEqual(session!.attributes["callstream.session.connections"], 2)
      assert.strictEqual(session!.attributes["callstream.session.gaps"], 1)
      assert.strictEqual(session!.status.code, SpanStatusCode.OK)

      // nothing a span carries holds a credential: not the token, the wrong one, the secret or a signature
      const carried = JSON.stringify(
        spans.map((span) => [span.name, span.attributes, span.status, span.events, span.links])
      )
      for (const secret of [TOKEN, WRONG_TOKEN, KEY, "whsec_", "v1,", "token="]) assert.notInclude(carried, secret)
    }))

  it.live("a session that ends at shutdown says so", () =>
    Effect.gen(function*() {
      const { exporter, server, shutdown } = yield* startTraced({ sessionTimeout: "1 minute" })
      yield* RecallSimulator.replay(meeting(4), {
        url: `${server.address.url}?token=${TOKEN}`,
        signingSecret: SECRET,
        ...fast
      })
      yield* shutdown
      const [session] = named(exporter.getFinishedSpans(), "callstream.session")
      assert.strictEqual(session?.attributes["callstream.session.end_reason"], "shutdown")
      assert.strictEqual(session?.attributes["callstream.session.connections"], 1)
    }))

  it.live("tracing: false makes no span under any tracer", () =>
    Effect.gen(function*() {
      const { exporter, server, shutdown } = yield* startTraced({ tracing: false })
      yield* RecallSimulator.replay(meeting(4), {
        url: `${server.address.url}?token=${TOKEN}`,
        signingSecret: SECRET,
        ...fast
      })
      assert.strictEqual(yield* upgradeStatus(`${server.address.url}?token=${WRONG_TOKEN}`), 401)
      yield* shutdown
      assert.deepStrictEqual(exporter.getFinishedSpans().map((span) => span.name), [])
    }))

  it.live("without a tracer of its own, the server asks Effect's built-in tracer for no span", () =>
    Effect.gen(function*() {
      // the built-in tracer is a shared object: count the spans asked of it while a meeting goes through
      const native = Context.get(DefaultServices.liveServices, Tracer.Tracer) as { span: Tracer.Tracer["span"] }
      const span = native.span
      let made = 0
      native.span = (...args) => {
        made++
        return span.apply(native, args)
      }
      yield* Effect.addFinalizer(() => Effect.sync(() => (native.span = span)))
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        RecallServer.layerTest().pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None))),
        scope
      )
      const server = Context.get(context, RecallServer.RecallServer)
      yield* RecallSimulator.replay(meeting(6), { url: server.address.url, ...fast, drops: [{ atIndex: 2, lose: 1 }] })
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(made, 0)
      // and the count is real: a span asked of the same tracer is counted
      yield* Effect.void.pipe(Effect.withSpan("check"))
      assert.strictEqual(made, 1)
    }).pipe(Effect.scoped))
})
