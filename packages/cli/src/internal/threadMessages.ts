/**
 * What `serve`'s main thread and its recorder thread say to each other (see `recorderThread` and `recorderWorker`).
 * Both ends are the same build of the same package, so the messages are plain objects for the structured clone of
 * `postMessage`, not a wire format with versions: events go as the raw text the server kept (decoded again on the
 * recorder thread, as a worker of a scale-out deployment decodes what a receiver published) and control events as
 * their Schema encoding; logs as their parts, already printed; metrics as cumulative values.
 *
 * Flow control is by credit: the main thread counts the weight of what it posted and not yet heard back about,
 * and stops reading the server's events past a bound; the recorder thread hands the weight back as its recorder
 * takes the events.
 *
 * @internal
 */
import * as Decoder from "@callstream/core/Decoder"
import * as SessionEvent from "@callstream/core/SessionEvent"
import type { SessionKey } from "@callstream/core/SessionKey"
import * as LogEntry from "@callstream/redis/LogEntry"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import type * as LogFormat from "./logFormat.js"

/** What the recorder thread is started with (its `workerData`). */
export interface Setup {
  /** The folder of the session folders. */
  readonly directory: string
  readonly logLevel: LogFormat.Level
  /** The OTLP endpoint the recorder's spans go to, if any. */
  readonly otel: string | undefined
  readonly serviceName: string
}

/** One event on its way to the recorder thread: its item in a Redis batch (see `LogEntry.itemOf`), and its session. */
export type Item = LogEntry.Item & { readonly s: SessionKey }

/** Main thread to recorder thread. */
export type ToRecorder =
  /** `weight`: what the items count for in flight (see {@link weightOf}), handed back once all are taken. */
  | { readonly _tag: "Events"; readonly items: ReadonlyArray<Item>; readonly weight: number }
  | { readonly _tag: "End" }

/** A metric's value on the recorder thread: a counter's total or a gauge's value. */
export interface MetricValue {
  readonly name: string
  readonly description: string | undefined
  readonly tags: ReadonlyArray<readonly [string, string]>
  readonly kind: "counter" | "gauge"
  readonly value: number
}

/** Recorder thread to main thread. */
export type ToMain =
  /** The recorder took every event of batches of this weight: the main thread may send as much again. */
  | { readonly _tag: "Credit"; readonly weight: number }
  | {
    readonly _tag: "Log"
    readonly level: LogFormat.Level
    readonly message: ReadonlyArray<string>
    readonly annotations: ReadonlyArray<readonly [string, string]>
    /** The cause, printed, when the log line has one. */
    readonly cause: string | undefined
  }
  | { readonly _tag: "Metrics"; readonly metrics: ReadonlyArray<MetricValue> }
  /** Every session is finished. */
  | { readonly _tag: "Done" }
  /** The recorder failed (a defect): nothing more is recorded. */
  | { readonly _tag: "Failed"; readonly cause: string }

/** The name of {@link heapUsed}, a gauge the main thread adds up across threads. */
export const HEAP_USED = "callstream_recorder_thread_heap_used_bytes"

/** V8 heap in use on the recorder threads, reported by each and added up on the main thread. */
export const heapUsed = Metric.gauge(HEAP_USED, {
  description: "V8 heap in use on the recorder threads (all of them together)"
})

/** V8 heap limit of each recorder thread (`--recorder-heap-mb`, plus V8's young generation). */
export const heapLimit = Metric.gauge("callstream_recorder_thread_heap_limit_bytes", {
  description: "V8 heap limit of each recorder thread (see --recorder-heap-mb)"
})

/**
 * How busy a recorder thread's event loop was over the last second (see `ThreadLoad`); the main thread shows the
 * busiest one's.
 */
export const threadBusy = Metric.gauge("callstream_recorder_thread_busy_ratio", {
  description:
    "Share of the last second the busiest recorder thread's event loop was busy (1 = it cannot keep up with more)"
})

const decodeControl = Schema.decodeSync(SessionEvent.ControlEvent)

/** The item an event travels as. */
export const itemOf = (event: SessionEvent.SessionEvent): Item =>
  Object.assign(LogEntry.itemOf(event), { s: event.session })

/**
 * The event an item came from. The text was decoded on the main thread already, by the same build: it is not checked
 * again (`Decoder.decodeAcceptedEither`). Should it not parse (it cannot), it becomes the `DecodeFailed` the server
 * would have made.
 */
export const eventOf = (item: Item): SessionEvent.SessionEvent => {
  if ("k" in item) return decodeControl(item.k)
  const decoded = Decoder.decodeAcceptedEither(item.m)
  return Either.isRight(decoded)
    ? SessionEvent.message(item.s, decoded.right, item.t, { connectionId: item.c, raw: item.m })
    : LogEntry.eventOfText(item.s, item.m, item.t, item.c)
}

/** What an item counts for in flight: the length of its text, or a flat 256 for a control event. */
export const weightOf = (item: Item): number => ("k" in item ? 256 : item.m.length)
