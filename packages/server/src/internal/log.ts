import * as Printable from "@callstream/core/Printable"
import * as Effect from "effect/Effect"
import * as LogLevel from "effect/LogLevel"
import * as Stream from "effect/Stream"
import * as ServerMetrics from "../ServerMetrics.js"
import { EventBuffer } from "./buffer.js"
import * as Counters from "./counters.js"

/**
 * How many lines of one kind (one message; wire-supplied values are annotations, never in the message) the server
 * logs in a second at most; the rest of a flood is counted and summed up in one line. Per kind, so a flood of one
 * (connections opening) never hides another (the memory budget reached).
 */
export const MAX_LINES_PER_SECOND = 100

export type Level = "Debug" | "Info" | "Warning" | "Error"

export type Annotations = Readonly<Record<string, string | number | undefined>>

/** Writes a log line from plain code (a socket callback): synchronous, total, never blocks. */
export type Log = (level: Level, message: string, annotations?: Annotations) => void

interface Line {
  readonly level: Level
  readonly message: string
  readonly annotations: Record<string, string | number>
}

/**
 * The server's log: socket callbacks write lines synchronously; one fiber hands them to Effect's logger. Every
 * string annotation is wire-supplied until proven otherwise, so each goes through `Printable.text`; a flood is
 * cut to {@link MAX_LINES_PER_SECOND} lines of a kind a second.
 */
export class ServerLog {
  private readonly lines = new EventBuffer<Line>(256, () => {})
  private window = -Infinity
  private readonly inWindow = new Map<string, number>()
  private suppressed = 0

  constructor(private readonly now: () => number) {}

  readonly write: Log = (level, message, annotations) => {
    const now = this.now()
    if (now - this.window >= 1000) {
      this.window = now
      this.inWindow.clear()
      if (this.suppressed > 0) {
        const suppressed = this.suppressed
        this.suppressed = 0
        this.enqueue("Warning", `Log flood: lines suppressed (more than ${MAX_LINES_PER_SECOND} of a kind a second)`, {
          suppressed
        })
      }
    }
    const count = (this.inWindow.get(message) ?? 0) + 1
    this.inWindow.set(message, count)
    if (count > MAX_LINES_PER_SECOND) {
      if (this.suppressed++ === 0) Counters.limitReached("log_lines")
      ServerMetrics.logLinesSuppressed.unsafeUpdate(1, Counters.NO_TAGS)
      return
    }
    this.enqueue(level, message, annotations)
  }

  private enqueue(level: Level, message: string, annotations?: Annotations): void {
    const clean: Record<string, string | number> = {}
    if (annotations !== undefined) {
      for (const key in annotations) {
        const value = annotations[key]
        if (value !== undefined) clean[key] = typeof value === "string" ? Printable.text(value) : value
      }
    }
    this.lines.offer({ level, message: Printable.text(message, 500), annotations: clean })
  }

  /** Hands lines to Effect's logger until {@link close}, then returns once every line is out. */
  readonly run: Effect.Effect<void> = Stream.runForEach(
    this.lines.stream,
    (line) =>
      Effect.logWithLevel(LogLevel.fromLiteral(line.level), line.message).pipe(Effect.annotateLogs(line.annotations))
  )

  /** No more lines: {@link run} ends once it has written what was written before. */
  close(): void {
    this.lines.end()
  }
}
