/**
 * How one log line looks in each of the console's formats: `pretty` for a person at a terminal, `logfmt` and
 * `json` for a log collector (one line per event, whatever the message or cause holds). Pure functions of an
 * {@link Entry}, so the formats are tested without a terminal.
 *
 * @internal
 */
import * as Printable from "@callstream/core/Printable"
import * as Cause from "effect/Cause"
import * as FiberId from "effect/FiberId"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import type * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

/** The console's formats. */
export const formats = ["pretty", "logfmt", "json"] as const

/** @internal */
export type Format = typeof formats[number]

/** The levels a user picks from, lowest first. */
export const levels = ["debug", "info", "warning", "error"] as const

/** @internal */
export type Level = typeof levels[number]

/** The Effect log level of a level a user picked. */
export const logLevelOf = (level: Level): LogLevel.LogLevel => {
  switch (level) {
    case "debug":
      return LogLevel.Debug
    case "info":
      return LogLevel.Info
    case "warning":
      return LogLevel.Warning
    case "error":
      return LogLevel.Error
  }
}

/** One log line, with everything each format may show. */
export interface Entry {
  readonly date: Date
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly annotations: ReadonlyArray<readonly [string, string]>
  /** The cause, rendered; absent when the line has none. */
  readonly cause?: string | undefined
  /** The fiber that logged, as `#12`; only when the console shows fiber ids (at debug). */
  readonly fiber?: string | undefined
}

const textOf = (value: unknown): string =>
  typeof value === "string" ? value : value instanceof Error ? String(value) : Inspectable.toStringUnknown(value, 0)

/** The entry an Effect logger is handed, with the fiber id only when asked for. */
export const entryOf = (options: Logger.Logger.Options<unknown>, withFiber: boolean): Entry => {
  const message = Array.isArray(options.message)
    ? options.message.map(textOf).join(" ")
    : textOf(options.message)
  const annotations: Array<readonly [string, string]> = []
  for (const [key, value] of HashMap.toEntries(options.annotations)) annotations.push([key, textOf(value)])
  return {
    date: options.date,
    level: options.logLevel,
    message,
    annotations,
    cause: Cause.isEmpty(options.cause) ? undefined : Cause.pretty(options.cause, { renderErrorCause: true }),
    fiber: withFiber ? FiberId.threadName(options.fiberId) : undefined
  }
}

/** An info line written by the console itself (not through Effect's logger). */
export const infoEntry = (message: string, annotations: Readonly<Record<string, unknown>>, date: Date): Entry => ({
  date,
  level: LogLevel.Info,
  message,
  annotations: Object.entries(annotations).map(([key, value]) => [key, textOf(value)] as const)
})

// ---------------------------------------------------------------------------------------------------------------
// pretty
// ---------------------------------------------------------------------------------------------------------------

const ESC = "\x1b["
const paint = (colors: boolean, code: string, text: string) => colors ? `${ESC}${code}m${text}${ESC}0m` : text

// a terminal shows text as it is: control characters from anywhere (a cause, an annotation) are escaped
const safe = (text: string) => Printable.text(text, 4000)

const two = (n: number) => String(n).padStart(2, "0")

/** The local time of day, `HH:MM:SS`. */
export const clock = (date: Date): string =>
  `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`

const labelOf = (level: LogLevel.LogLevel, colors: boolean): string => {
  switch (level._tag) {
    case "Fatal":
    case "Error":
      return paint(colors, "1;31", "ERROR") + " "
    case "Warning":
      return paint(colors, "33", "WARN") + " "
    case "Info":
      return ""
    default:
      return paint(colors, "2", level.label) + " "
  }
}

/**
 * A line for a person: the time, the level when it is not info, the message; then the annotations, except on info
 * lines, whose sentences say what matters (the meeting lines carry their figures in the message); a cause follows
 * on its own indented lines. Colours only when `colors`.
 */
export const pretty = (entry: Entry, colors: boolean): string => {
  const details = entry.level._tag === "Info" ? [] : entry.annotations.map(([key, value]) => `${key}=${safe(value)}`)
  if (entry.fiber !== undefined) details.push(entry.fiber)
  const line = paint(colors, "2", clock(entry.date)) + " " + labelOf(entry.level, colors) + safe(entry.message) +
    (details.length === 0 ? "" : " " + paint(colors, "2", details.join(" ")))
  if (entry.cause === undefined) return line
  return line + "\n" + entry.cause.split("\n").map((l) => `    ${Printable.text(l, 4000)}`).join("\n")
}

// ---------------------------------------------------------------------------------------------------------------
// logfmt and json
// ---------------------------------------------------------------------------------------------------------------

// a value that needs no quotes: no space, quote, equals sign, backslash or control character
// eslint-disable-next-line no-control-regex
const BARE = /^[^\s"=\\\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/

const quoted = (value: string) => BARE.test(value) ? value : JSON.stringify(value)

const keyOf = (key: string) => key.replace(/[^A-Za-z0-9_.-]/g, "_") || "_"

const levelName = (level: LogLevel.LogLevel) => level._tag === "Warning" ? "WARN" : level.label

// the fields of a structured line in order; an annotation never replaces one of the line's own fields
const fieldsOf = (entry: Entry): Array<readonly [string, string]> => {
  const fields: Array<readonly [string, string]> = [
    ["timestamp", entry.date.toISOString()],
    ["level", levelName(entry.level)],
    ["message", entry.message]
  ]
  if (entry.fiber !== undefined) fields.push(["fiber", entry.fiber])
  const own = new Set(fields.map(([key]) => key)).add("cause")
  for (const [key, value] of entry.annotations) {
    const name = keyOf(key)
    fields.push([own.has(name) ? `annotation.${name}` : name, value])
  }
  if (entry.cause !== undefined) fields.push(["cause", entry.cause])
  return fields
}

/** One logfmt line: `key=value` pairs, values quoted (JSON string escapes) when they need it. */
export const logfmt = (entry: Entry): string =>
  fieldsOf(entry).map(([key, value]) => `${key}=${quoted(value)}`).join(" ")

/** One JSON object per line, annotations as top-level fields. */
export const json = (entry: Entry): string => {
  const object: Record<string, string> = Object.create(null)
  for (const [key, value] of fieldsOf(entry)) object[key] = value
  return JSON.stringify(object)
}

/** An entry in the given format. */
export const format = (entry: Entry, format: Format, colors: boolean): string => {
  switch (format) {
    case "pretty":
      return pretty(entry, colors)
    case "logfmt":
      return logfmt(entry)
    case "json":
      return json(entry)
  }
}
