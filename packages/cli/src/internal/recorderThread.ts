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
  /** Weight of events posted and not yet taken by the recorder, past which the Stream is not read. Default 16 MiB. */
  readonly maxInFlight?: number | undefined
}

// The entry has this module's extension: `.ts` from the sources (loaded through tsx, registered in the thread
// with the package's tsconfig paths), `.js` from dist, `.mjs` from a bundle.
const startThread = (setup: ThreadMessages.Setup): Worker => {
  const here = import.meta.url
  const extension = here.slice(here.lastIndexOf("."))
  const entry = new URL(`./recorderWorker${extension}`, here)
  if (extension !== ".ts") return new Worker(entry, { workerData: setup })
  // tsx's ESM API (its exports put it beside the CommonJS one `require.resolve` finds; `import.meta.resolve` is
  // not there under every test runner)
  const tsx = pathToFileURL(createRequire(here).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href
  const tsconfig = fileURLToPath(new URL("../../tsconfig.json", here))
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => {
    tsx.register({ tsconfig: ${JSON.stringify(tsconfig)} })
    return import(${JSON.stringify(entry.href)})
  })`
  return new Worker(bootstrap, { eval: true, workerData: setup })
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
 * Records `events` on a recorder thread until the Stream ends and every session is finished.
 *
 * @internal
 */
export const record = <E, R>(
  events: Stream.Stream<SessionEvent.SessionEvent, E, R>,
  options: Options
): Effect.Effect<void, E | RecorderThreadError, R> =>
  Effect.scoped(Effect.gen(function*() {
    const maxInFlight = options.maxInFlight ?? 16 * 1024 * 1024
    const runtime = yield* Effect.runtime<never>()
    const runSync = Runtime.runSync(runtime)
    const finished = yield* Deferred.make<void, RecorderThreadError>()
    let failure: RecorderThreadError | undefined
    let inFlight = 0
    let credit: Deferred.Deferred<void> | undefined
    const release = () => {
      if (credit !== undefined) Deferred.unsafeDone(credit, Exit.void)
      credit = undefined
    }
    const fail = (error: RecorderThreadError) => {
      failure ??= error
      Deferred.unsafeDone(finished, Exit.fail(failure))
      release()
    }
    // last seen totals of the thread's counters, to add what they grew by
    const totals = new Map<string, number>()

    const onMessage = (message: ThreadMessages.ToMain): void => {
      switch (message._tag) {
        case "Credit":
          inFlight -= message.weight
          if (inFlight <= maxInFlight / 2) release()
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
            if (value.kind === "gauge") return mirror(value, 0)
            const key = JSON.stringify([value.name, value.tags])
            const grown = value.value - (totals.get(key) ?? 0)
            totals.set(key, value.value)
            return grown > 0 ? mirror(value, grown) : Effect.void
          }, { discard: true }))
          return
        case "Done":
          Deferred.unsafeDone(finished, Exit.void)
          return
        case "Failed":
          fail(new RecorderThreadError({ reason: "Failed", detail: message.cause }))
          return
      }
    }

    const thread = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const thread = startThread(options)
        thread.on("message", onMessage)
        thread.on("error", (error) => fail(new RecorderThreadError({ reason: "Failed", detail: String(error) })))
        thread.on("exit", (code) => fail(new RecorderThreadError({ reason: "Exited", detail: `exit code ${code}` })))
        return thread
      }),
      (thread) => Effect.promise(() => thread.terminate())
    )

    const post = (chunk: Iterable<SessionEvent.SessionEvent>): Effect.Effect<void, RecorderThreadError> =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        const items: Array<ThreadMessages.Item> = []
        let weight = 0
        for (const event of chunk) {
          const item = ThreadMessages.itemOf(event)
          weight += ThreadMessages.weightOf(item)
          items.push(item)
        }
        if (items.length === 0) return Effect.void
        inFlight += weight
        thread.postMessage({ _tag: "Events", items, weight } satisfies ThreadMessages.ToRecorder)
        return inFlight <= maxInFlight ? Effect.void : waitForCredit
      })

    // until the recorder took half of what is in flight (or the thread failed)
    const waitForCredit: Effect.Effect<void, RecorderThreadError> = Effect.flatMap(
      Deferred.make<void>(),
      (wait) =>
        Effect.suspend(() => {
          if (failure === undefined && inFlight > maxInFlight / 2) {
            credit = wait
            return Deferred.await(wait)
          }
          return Effect.void
        })
    ).pipe(Effect.zipRight(Effect.suspend(() => failure === undefined ? Effect.void : Effect.fail(failure))))

    const feeding = Stream.runForEachChunk(events, post).pipe(
      Effect.zipRight(Effect.sync(() => thread.postMessage({ _tag: "End" } satisfies ThreadMessages.ToRecorder))),
      Effect.zipRight(Deferred.await(finished))
    )
    // a thread that fails fails the recording at once, not when the Stream next has events
    yield* Effect.raceFirst(feeding, Effect.zipRight(Deferred.await(finished), Effect.never))
  }))
