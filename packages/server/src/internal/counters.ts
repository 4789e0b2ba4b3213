import type * as Decoder from "@callstream/core/Decoder"
import * as Metric from "effect/Metric"
import type * as MetricLabel from "effect/MetricLabel"
import * as ServerMetrics from "../ServerMetrics.js"

/** No extra tags: what every update from plain code passes. */
export const NO_TAGS: ReadonlyArray<MetricLabel.MetricLabel> = []

/** Tagged variants of a metric, made once per tag value (the hot path then finds its hook without hashing). */
const taggedCache = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, key: string) => {
  const cache = new Map<string, Metric.Metric<Type, In, Out>>()
  return (value: string): Metric.Metric<Type, In, Out> => {
    let m = cache.get(value)
    if (m === undefined) {
      m = Metric.tagged(metric, key, value)
      cache.set(value, m)
    }
    return m
  }
}

// the values of every tag below are ours or bounded sets (close codes go through `closeCodeLabel`), so each cache
// stays small whatever the wire sends
export const messagesBy = taggedCache(ServerMetrics.messages, "event")
export const bytesBy = taggedCache(ServerMetrics.messageBytes, "event")
export const droppedBy = taggedCache(ServerMetrics.dropped, "kind")
export const endedBy = taggedCache(ServerMetrics.sessionsEnded, "reason")
export const authFailuresBy = taggedCache(ServerMetrics.authFailures, "reason")
const decodeFailuresBy = taggedCache(ServerMetrics.decodeFailures, "reason")
const closedBy = taggedCache(ServerMetrics.connectionsClosed, "code")
const limitsBy = taggedCache(ServerMetrics.limitReached, "limit")
const internalErrorsBy = taggedCache(ServerMetrics.internalErrors, "callback")

export const decodeFailed = (reason: Decoder.DecodeErrorReason): void =>
  decodeFailuresBy(reason).unsafeUpdate(1, NO_TAGS)

/** A close code as a metric label: the codes of the protocol as they are, the private ranges as one label each. */
export const closeCodeLabel = (code: number): string =>
  code >= 1000 && code <= 1015 ? String(code) : code >= 3000 && code <= 3999 ? "3xxx" : code >= 4000 && code <= 4999
    ? "4xxx"
    : "other"

export const closed = (code: number): void => closedBy(closeCodeLabel(code)).unsafeUpdate(1, NO_TAGS)

export const limitReached = (limit: ServerMetrics.Limit): void => limitsBy(limit).unsafeUpdate(1, NO_TAGS)

export const internalError = (callback: typeof ServerMetrics.callbacks[number]): void =>
  internalErrorsBy(callback).unsafeUpdate(1, NO_TAGS)
