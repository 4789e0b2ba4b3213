/**
 * The recorder thread of `callstream serve` (a `worker_threads` entry; see `recorderThread`, which starts it): the
 * events the main thread posts are decoded again and recorded with `SessionRecorder.recordEvents`, on a thread of
 * their own, so the work of the files (the reducers, the writes, the derived files, the collector's work on what
 * the meetings hold) never holds up the main thread's sockets. Its logs and its recorder metrics go to the main
 * thread, whose console and `/metrics` show them; its spans go to the OTLP endpoint, if any, from here.
 *
 * @internal
 */
import * as TurnScheduler from "@callstream/server/TurnScheduler"
import { RecorderMetrics, SessionRecorder } from "@callstream/sinks"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Mailbox from "effect/Mailbox"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as v8 from "node:v8"
import { parentPort, workerData } from "node:worker_threads"
import * as Telemetry from "../Telemetry.js"
import * as LogFormat from "./logFormat.js"
import * as SyncFiles from "./syncFiles.js"
import * as ThreadLoad from "./threadLoad.js"
import * as ThreadMessages from "./threadMessages.js"

const port = parentPort!
const setup = workerData as ThreadMessages.Setup
const post = (message: ThreadMessages.ToMain) => port.postMessage(message)

const PREFIX = "callstream_recorder_"

const levelOf = (label: string): LogFormat.Level => {
  switch (label) {
    case "WARN":
      return "warning"
    case "ERROR":
    case "FATAL":
      return "error"
    case "INFO":
      return "info"
    default:
      return "debug"
  }
}

// every log line goes to the main thread, printed to strings (what a structured clone carries)
const forwardingLogger = Logger.make(({ annotations, cause, logLevel, message }) =>
  post({
    _tag: "Log",
    level: levelOf(logLevel.label),
    message: (Array.isArray(message) ? message : [message]).map((part) =>
      typeof part === "string" ? part : Inspectable.toStringUnknown(part)
    ),
    annotations: Array.from(
      HashMap.toEntries(annotations),
      ([key, value]) => [key, typeof value === "string" ? value : Inspectable.toStringUnknown(value)] as const
    ),
    cause: Cause.isEmpty(cause) ? undefined : Cause.pretty(cause)
  })
)

// how busy this thread was since the last report
const busy = ThreadLoad.meter()

// this thread's V8 heap and load, reported with the recorder's own metrics
const measureThread = Effect.suspend(() => {
  const heap = v8.getHeapStatistics()
  return Effect.all([
    Metric.set(ThreadMessages.heapUsed, heap.used_heap_size),
    Metric.set(ThreadMessages.heapLimit, heap.heap_size_limit),
    Metric.set(ThreadMessages.threadBusy, busy())
  ], { discard: true })
})

// the recorder's metrics, as their cumulative values
const reportMetrics = Effect.zipRight(
  measureThread,
  Effect.sync(() => {
    const metrics: Array<ThreadMessages.MetricValue> = []
    for (const pair of Metric.unsafeSnapshot()) {
      const key = pair.metricKey
      if (!key.name.startsWith(PREFIX)) continue
      const state = pair.metricState
      const common = {
        name: key.name,
        description: Option.getOrUndefined(key.description),
        tags: key.tags.map((tag) => [tag.key, tag.value] as const)
      }
      if (MetricState.isCounterState(state)) metrics.push({ ...common, kind: "counter", value: Number(state.count) })
      else if (MetricState.isGaugeState(state)) metrics.push({ ...common, kind: "gauge", value: Number(state.value) })
    }
    post({ _tag: "Metrics", metrics })
  })
)

const program = Effect.gen(function*() {
  const mailbox = yield* Mailbox.make<ThreadMessages.Item>()
  // the batches in the mailbox, oldest first: how many of their events are not taken yet, and their weight
  const batches: Array<{ remaining: number; readonly weight: number }> = []
  port.on("message", (message: ThreadMessages.ToRecorder) => {
    if (message._tag === "End") {
      mailbox.unsafeDone(Exit.void)
      return
    }
    if (message.items.length === 0) return
    batches.push({ remaining: message.items.length, weight: message.weight })
    mailbox.unsafeOfferAll(message.items)
  })
  // a batch's weight goes back once the recorder took all its events: while the recorder waits for its writes, the
  // main thread waits too. Items are decoded as the recorder takes them, not as they arrive: what waits in the
  // mailbox is their text alone, and the decoded events live only while they are applied
  const events = Mailbox.toStream(mailbox).pipe(
    Stream.mapChunks((chunk) => {
      let taken = chunk.length
      let weight = 0
      while (taken > 0 && batches.length > 0) {
        const oldest = batches[0]!
        const part = Math.min(taken, oldest.remaining)
        oldest.remaining -= part
        taken -= part
        if (oldest.remaining === 0) {
          weight += oldest.weight
          batches.shift()
        }
      }
      if (weight > 0) post({ _tag: "Credit", weight })
      return Chunk.map(chunk, ThreadMessages.eventOf)
    })
  )
  // the gauge of live sessions exists from the start, as it does on a recorder in the main thread
  yield* Metric.set(RecorderMetrics.sessions, 0)
  const reporting = yield* Effect.fork(Effect.repeat(reportMetrics, Schedule.spaced("1 second")))
  yield* SessionRecorder.recordEvents(events, { directory: setup.directory })
  yield* Fiber.interrupt(reporting)
  yield* reportMetrics
})

Effect.runFork(
  program.pipe(
    Effect.provide(Layer.provideMerge(SyncFiles.layer, NodeContext.layer)),
    Effect.provide(Telemetry.layer({ endpoint: Option.fromNullable(setup.otel), serviceName: setup.serviceName })),
    Effect.provide(Logger.replace(Logger.defaultLogger, forwardingLogger)),
    Logger.withMinimumLogLevel(LogFormat.logLevelOf(setup.logLevel)),
    Effect.withScheduler(TurnScheduler.make())
  )
).addObserver((exit) => {
  post(Exit.isSuccess(exit) ? { _tag: "Done" } : { _tag: "Failed", cause: Cause.pretty(exit.cause) })
  port.close()
})
