import { type SessionEvent, SessionKey } from "@callstream/core"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { SpanStatusCode } from "@opentelemetry/api"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as fs from "node:fs"
import * as path from "node:path"
import * as SessionRecorder from "../src/SessionRecorder.js"
import * as FailingFileSystem from "./failingFileSystem.js"
import { BOT, sample, sessionItems, tempDir } from "./recording.js"

const FLUSH = "callstream.recorder.flush"

/** An in-memory exporter that keeps its spans after the tracer shuts down at the end of the program. */
class KeptSpans extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

const traced = (exporter: InMemorySpanExporter) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: "callstream-test" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  }))

/** Records the sample meeting as one session into `directory`. */
const recordSample = (directory: string) => {
  const { all } = sessionItems(sample().entries)
  return SessionRecorder.recordSession(
    { key: SessionKey.make(BOT), events: Stream.fromIterable<SessionEvent.SessionEvent>(all) },
    { directory }
  )
}

const flushes = (exporter: InMemorySpanExporter): ReadonlyArray<ReadableSpan> =>
  exporter.getFinishedSpans().filter((span) => span.name === FLUSH)

describe("recorder tracing", () => {
  it.live("a flush that writes is a span with the session key and the bytes and files it wrote", () =>
    Effect.gen(function*() {
      const exporter = new KeptSpans()
      const out = tempDir()
      yield* recordSample(out).pipe(Effect.provide(NodeContext.layer), Effect.provide(traced(exporter)))
      const spans = flushes(exporter)
      assert.isAbove(spans.length, 0)
      for (const span of spans) {
        assert.strictEqual(span.attributes["callstream.session.key"], BOT)
        assert.strictEqual(span.status.code, SpanStatusCode.OK)
        // only the last flush runs however little is left (it also writes the derived files)
        if (span.attributes["callstream.flush.final"] !== true) {
          assert.isAbove(Number(span.attributes["callstream.flush.files"]), 0)
          assert.isAbove(Number(span.attributes["callstream.flush.bytes"]), 0)
        }
        assert.isUndefined(span.parentSpanContext, "each flush is a trace of its own")
      }
      assert.isTrue(spans.some((span) => span.attributes["callstream.flush.final"] === true), "the last flush")
      // every byte of the tape and the mixed audio went through some flush
      const written = spans.reduce((sum, span) => sum + Number(span.attributes["callstream.flush.bytes"]), 0)
      const dir = path.join(out, BOT)
      const onDisk = fs.statSync(path.join(dir, "events.jsonl")).size +
        fs.statSync(path.join(dir, "audio/mixed.wav")).size
      assert.isAbove(written, onDisk - 44 - 1)
    }))

  it.live("a flush whose writes fail is an error span", () =>
    Effect.gen(function*() {
      const exporter = new KeptSpans()
      const out = tempDir()
      const failing: FailingFileSystem.Failing = (operation, file) => operation === "write" && file.endsWith(".wav")
      yield* recordSample(out).pipe(
        Effect.provide(FailingFileSystem.layer(failing)),
        Effect.provide(Logger.minimumLogLevel(LogLevel.None)),
        Effect.provide(traced(exporter))
      )
      const failed = flushes(exporter).filter((span) => span.status.code === SpanStatusCode.ERROR)
      assert.isAbove(failed.length, 0)
      assert.match(failed[0]!.status.message ?? "", /\d+ writes failed/)
    }))

  it.live("without a tracer of its own, the recorder asks Effect's built-in tracer for no flush span", () =>
    Effect.gen(function*() {
      const native = Context.get(DefaultServices.liveServices, Tracer.Tracer) as { span: Tracer.Tracer["span"] }
      const span = native.span
      let made = 0
      native.span = (name, ...rest) => {
        if (name === FLUSH) made++
        return span.call(native, name, ...rest)
      }
      yield* Effect.addFinalizer(() => Effect.sync(() => (native.span = span)))
      yield* recordSample(tempDir()).pipe(Effect.provide(NodeContext.layer))
      assert.strictEqual(made, 0)
      // the count is real: a span of that name asked of the same tracer is counted
      yield* Effect.void.pipe(Effect.withSpan(FLUSH))
      assert.strictEqual(made, 1)
    }).pipe(Effect.scoped))
})
