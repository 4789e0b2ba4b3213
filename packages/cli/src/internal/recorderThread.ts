/**
 * Records a flat Stream of events on a thread of its own (`recorderWorker`): the main thread keeps the sockets,
 * the decoding and the sessions (the library path), and posts every chunk of events on; the recorder thread does
 * everything the files ask. With both on one thread, a recorder behind its work held up the accepting of
 * connections and the answers to pings: Node accepts one connection per turn of its event loop, and a turn of a
 * saturated recorder lasts tens of milliseconds.
 *
 * Memory stays bounded by credit: once `maxInFlight` of event text (see `ThreadMessages.weightOf`) is posted and
 * not yet taken by the recorder, the main thread stops reading the Stream until the recorder takes more,
 * and the server's own backpressure (paused sockets, media shed with `Dropped` records) does the rest, as when the
 * recorder shared the thread.
 *
 * Logs of the recorder thread are logged again here (its annotations kept, its cause printed); its recorder
 * metrics (`callstream_recorder_*`) are mirrored into this thread's registry every second, so `/metrics` shows
 * them. The thread ends after the Stream does, once every session's files are finished; should it fail or exit
 * before, the recording fails with a `RecorderThreadError` (what the thread had not written is in its tape, and a
 * restart continues from it).
 *
 * @internal
 */
import type * as SessionEvent from "@callstream/core/SessionEvent"
import * as LogEntry from "@callstream/redis/LogEntry"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Worker } from "node:worker_threads"
import * as LogFormat from "./logFormat.js"
import * as ThreadMessages from "./threadMessages.js"

/**
 * The recorder thread failed, or exited before it finished.
 *
 * @internal
 */
export class RecorderThreadError extends Data.TaggedError("RecorderThreadError")<{
  readonly reason: "Failed" | "Exited"
  readonly detail: string
}> {
  override get message(): string {
    return `The recorder thread ${this.reason === "Failed" ? "failed" : "exited early"}: ${this.detail}`
  }
}

/** @internal */
export interface Options extends ThreadMessages.Setup {
  /**
   * Weight of events posted to one thread and not yet taken by its recorder, past which the Stream is not read.
   * Default 16 MiB.
   */
  readonly maxInFlight?: number | undefined
  /** Recorder threads, each recording the sessions whose key hashes to it. Default 1. */
  readonly threads?: number | undefined
  /**
   * The V8 old-generation limit of each recorder thread, in MiB (its `resourceLimits`). Default 1,024. V8 lets a
   * heap grow to a multiple of what it keeps alive before it collects again, and the multiple depends on the limit:
   * up to 4 with Node's default (about a quarter of the machine's memory, capped at 4 GiB), about 1.6 at 1 GiB. At
   * 500 recorded meetings the thread keeps about 60 MB alive; with the default limit its heap took about 230 MB,
   * with 1 GiB about 155 MB, for more (short) collections. A thread that needs more than its limit fails, and the
   * recording with it: a machine with many thousands of meetings on one thread wants more.
   */
  readonly heapLimitMb?: number | undefined
}

/** The default of {@link Options.heapLimitMb}. @internal */
export const DEFAULT_HEAP_LIMIT_MB = 1024

/**
 * The young generation of each recorder thread, in MiB: two semi-spaces of 32 MiB and room for large new objects,
 * twice Node's default. What the recorder allocates lives for a batch (a message's text and parsed value) or until
 * the session's next event replaces it (a track's place, the roster and transcript); a scavenge costs what survives
 * it, and what survives two is moved to the old generation, for V8's helper threads to mark and the thread to sweep.
 * With Node's default at 1,000 recorded meetings a scavenge came every 70 ms or so, under the 100 ms between two
 * audio chunks of a meeting, and up to 20 MB a second survived into the old generation. The memory is used only
 * while the thread allocates that fast.
 *
 * @internal
 */
export const YOUNG_GENERATION_MB = 96

// The entry has this module's extension: `.ts` from the sources (loaded through tsx, registered in the thread
// with the package's tsconfig paths), `.js` from dist, `.mjs` from a bundle.
const startThread = (setup: ThreadMessages.Setup, heapLimitMb: number): Worker => {
  const here = import.meta.url
  const extension = here.slice(here.lastIndexOf("."))
  const entry = new URL(`./recorderWorker${extension}`, here)
  const resourceLimits = { maxOldGenerationSizeMb: heapLimitMb, maxYoungGenerationSizeMb: YOUNG_GENERATION_MB }
  if (extension !== ".ts") return new Worker(entry, { workerData: setup, resourceLimits })
  // tsx's ESM API (its exports put it beside the CommonJS one `require.resolve` finds; `import.meta.resolve` is
  // not there under every test runner)
  const tsx = pathToFileURL(createRequire(here).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href
  const tsconfig = fileURLToPath(new URL("../../tsconfig.json", here))
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => {
    tsx.register({ tsconfig: ${JSON.stringify(tsconfig)} })
    return import(${JSON.stringify(entry.href)})
  })`
  return new Worker(bootstrap, { eval: true, workerData: setup, resourceLimits })
}

// this thread's copy of a metric of the recorder thread
const mirror = (value: ThreadMessages.MetricValue, delta: number): Effect.Effect<void> => {
  const labels = value.tags.map(([key, tag]) => MetricLabel.make(key, tag))
  const description = value.description
  return value.kind === "gauge"
    ? Metric.set(Metric.taggedWithLabels(Metric.gauge(value.name, { description }), labels), value.value)
    : Metric.incrementBy(
      Metric.taggedWithLabels(Metric.counter(value.name, { description, incremental: true }), labels),
      delta
    )
}

/**
 * One recorder thread as the main thread sees it: what is in flight to it, and who waits for its credit.
 */
interface Lane {
  readonly index: number
  thread: Worker | undefined
  inFlight: number
  credit: Deferred.Deferred<void> | undefined
  done: boolean
}

// gauges whose values add up across threads (the others are settings each thread chooses alike: the largest shows)
const ADDITIVE_GAUGES = new Set([
  "callstream_recorder_sessions_current",
  "callstream_recorder_pending_bytes",
  ThreadMessages.HEAP_USED
])

/**
 * Records `events` on `threads` recorder threads (default 1), each taking whole sessions (by a hash of the session
 * key), until the Stream ends and every session is finished.
 *
 * @internal
 */
export const record = <E, R>(
  events: Stream.Stream<SessionEvent.SessionEvent, E, R>,
  options: Options
): Effect.Effect<void, E | RecorderThreadError, R> =>
  Effect.scoped(Effect.gen(function*() {
    const maxInFlight = options.maxInFlight ?? 16 * 1024 * 1024
    const threads = Math.max(1, options.threads ?? 1)
    const runtime = yield* Effect.runtime<never>()
    const runSync = Runtime.runSync(runtime)
    const finished = yield* Deferred.make<void, RecorderThreadError>()
    let failure: RecorderThreadError | undefined
    const lanes: Array<Lane> = Array.from(
      { length: threads },
      (_, index) => ({ index, thread: undefined, inFlight: 0, credit: undefined, done: false })
    )
    const release = (lane: Lane) => {
      if (lane.credit !== undefined) Deferred.unsafeDone(lane.credit, Exit.void)
      lane.credit = undefined
    }
    const fail = (error: RecorderThreadError) => {
      failure ??= error
      Deferred.unsafeDone(finished, Exit.fail(failure))
      lanes.forEach(release)
    }
    // last seen values of each thread's metrics: counters add what they grew by, gauges are combined
    const seen = new Map<string, number>()
    const gauges = new Map<string, Array<number>>()

    const onMessage = (lane: Lane) => (message: ThreadMessages.ToMain): void => {
      switch (message._tag) {
        case "Credit":
          lane.inFlight -= message.weight
          if (lane.inFlight <= maxInFlight / 2) release(lane)
          return
        case "Log": {
          const parts = message.cause === undefined ? message.message : [...message.message, message.cause]
          runSync(
            Effect.logWithLevel(LogFormat.logLevelOf(message.level), ...parts).pipe(
              Effect.annotateLogs(Object.fromEntries(message.annotations))
            )
          )
          return
        }
        case "Metrics":
          runSync(Effect.forEach(message.metrics, (value) => {
            const key = JSON.stringify([value.name, value.tags])
            if (value.kind === "gauge") {
              let values = gauges.get(key)
              if (values === undefined) gauges.set(key, values = new Array<number>(threads).fill(0))
              values[lane.index] = value.value
              const combined = ADDITIVE_GAUGES.has(value.name)
                ? values.reduce((a, b) => a + b, 0)
                : Math.max(...values)
              return mirror({ ...value, value: combined }, 0)
            }
            const laneKey = `${lane.index}:${key}`
            const grown = value.value - (seen.get(laneKey) ?? 0)
            seen.set(laneKey, value.value)
            return grown > 0 ? mirror(value, grown) : Effect.void
          }, { discard: true }))
          return
        case "Done":
          lane.done = true
          if (lanes.every((other) => other.done)) Deferred.unsafeDone(finished, Exit.void)
          return
        case "Failed":
          fail(new RecorderThreadError({ reason: "Failed", detail: message.cause }))
          return
      }
    }

    for (const lane of lanes) {
      lane.thread = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const thread = startThread({
            directory: options.directory,
            logLevel: options.logLevel,
            otel: options.otel,
            serviceName: options.serviceName
          }, options.heapLimitMb ?? DEFAULT_HEAP_LIMIT_MB)
          thread.on("message", onMessage(lane))
          thread.on("error", (error) => fail(new RecorderThreadError({ reason: "Failed", detail: String(error) })))
          thread.on("exit", (code) => {
            if (!lane.done) fail(new RecorderThreadError({ reason: "Exited", detail: `exit code ${code}` }))
          })
          return thread
        }),
        (thread) => Effect.promise(() => thread.terminate())
      )
    }

    const post = (chunk: Iterable<SessionEvent.SessionEvent>): Effect.Effect<void, RecorderThreadError> =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        const items: Array<Array<ThreadMessages.Item>> = lanes.map(() => [])
        const weights: Array<number> = lanes.map(() => 0)
        for (const event of chunk) {
          const item = ThreadMessages.itemOf(event)
          const index = threads === 1 ? 0 : LogEntry.partitionOf(event.session, threads)
          items[index]!.push(item)
          weights[index]! += ThreadMessages.weightOf(item)
        }
        for (const lane of lanes) {
          const batch = items[lane.index]!
          if (batch.length === 0) continue
          const weight = weights[lane.index]!
          lane.inFlight += weight
          lane.thread!.postMessage({ _tag: "Events", items: batch, weight } satisfies ThreadMessages.ToRecorder)
        }
        return lanes.some((lane) => lane.inFlight > maxInFlight) ? waitForCredit : Effect.void
      })

    // until every recorder over its bound took half of what is in flight to it (or a thread failed)
    const waitForCredit: Effect.Effect<void, RecorderThreadError> = Effect.forEach(lanes, (lane) =>
      Effect.flatMap(
        Deferred.make<void>(),
        (wait) =>
          Effect.suspend(() => {
            if (failure === undefined && lane.inFlight > maxInFlight / 2) {
              lane.credit = wait
              return Deferred.await(wait)
            }
            return Effect.void
          })
      ), { discard: true }).pipe(
        Effect.zipRight(Effect.suspend(() => failure === undefined ? Effect.void : Effect.fail(failure)))
      )

    const feeding = Stream.runForEachChunk(events, post).pipe(
      Effect.zipRight(Effect.sync(() => {
        for (const lane of lanes) lane.thread!.postMessage({ _tag: "End" } satisfies ThreadMessages.ToRecorder)
      })),
      Effect.zipRight(Deferred.await(finished))
    )
    // a thread that fails fails the recording at once, not when the Stream next has events
    yield* Effect.raceFirst(feeding, Effect.zipRight(Deferred.await(finished), Effect.never))
  }))
