/**
 * The console of a long-running command (`serve`, `worker`): the one owner of its output. It is Effect's logger
 * for the command (every `Effect.log*` of every package goes through it) and, on a terminal in the pretty format,
 * it keeps a live status line below the log: each log line clears the status line, is written, and the status
 * line is drawn again under it, so the two never run into each other. Closing its scope clears the status line,
 * so the shell prompt comes back on a clean line.
 *
 * Off a terminal (or with `--log-format logfmt|json`) every line is one structured line, no status line is drawn
 * and no escape sequence is written.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as Scope from "effect/Scope"
import * as LogFormat from "./logFormat.js"

/** Where the console writes: `process.stdout`, or a test's collector. */
export interface Output {
  readonly write: (text: string) => unknown
  readonly isTTY?: boolean | undefined
  /** The terminal's width; read at each redraw, so a resized window is followed. */
  readonly columns?: number | undefined
}

const ignore = () => {}

/**
 * The process's stdout as the console's output. A reader that goes away (`callstream serve | head`) makes writes
 * fail with EPIPE, reported as an `error` event that would end the process: with nobody reading there is nothing
 * left to tell, so the event is taken and the command goes on.
 */
export const stdout = (): Output => {
  if (!process.stdout.listeners("error").includes(ignore)) process.stdout.on("error", ignore)
  return process.stdout
}

/** How the console behaves. */
export interface Options {
  readonly output: Output
  readonly level: LogFormat.Level
  /** Default: `pretty` on a terminal, `logfmt` otherwise. */
  readonly format?: LogFormat.Format | undefined
  /** Colours in the pretty format. Default: on a terminal, unless `NO_COLOR` is set. */
  readonly colors?: boolean | undefined
}

/** Moves to the start of the line and erases it. */
export const CLEAR_LINE = "\r\x1b[2K"

/**
 * The output with its status line: plain synchronous code, so a line is never split by another fiber's line.
 */
export class Screen {
  private status: string | undefined = undefined

  constructor(private readonly output: Output, readonly hasStatus: boolean) {}

  /** Writes whole lines (`text` ends with a newline) above the status line. */
  lines(text: string): void {
    if (this.status === undefined) this.output.write(text)
    else this.output.write(CLEAR_LINE + text + this.status)
  }

  /** Draws the status line in place of the previous one, cut to the terminal's width; a no-op without one. */
  showStatus(text: string): void {
    if (!this.hasStatus) return
    const width = Math.max(20, (this.output.columns || 80) - 1)
    this.status = text.length > width ? text.slice(0, width) : text
    this.output.write(CLEAR_LINE + this.status)
  }

  /** Erases the status line until the next {@link showStatus}. */
  clearStatus(): void {
    if (this.status === undefined) return
    this.status = undefined
    this.output.write(CLEAR_LINE)
  }
}

/** The console a command writes to. */
export class Terminal extends Context.Tag("@callstream/cli/Terminal")<Terminal, {
  readonly format: LogFormat.Format
  readonly level: LogFormat.Level
  /** Whether a status line is drawn (a terminal in the pretty format). */
  readonly hasStatus: boolean
  /**
   * Says something whatever the log level (a header, the last words at exit): `text` as it is in the pretty
   * format, else an info line of `message` and `annotations`.
   */
  readonly announce: (
    text: string,
    message: string,
    annotations?: Readonly<Record<string, unknown>>
  ) => Effect.Effect<void>
  /** Draws the status line (when there is one). */
  readonly status: (text: string) => Effect.Effect<void>
  /** Erases the status line. */
  readonly clearStatus: Effect.Effect<void>
}>() {}

/** The resolved behaviour of a console on an output. */
export const settingsOf = (options: Options) => {
  const tty = options.output.isTTY === true
  const format = options.format ?? (tty ? "pretty" : "logfmt")
  return {
    format,
    colors: options.colors ?? (tty && format === "pretty" && process.env.NO_COLOR === undefined),
    hasStatus: tty && format === "pretty",
    fiberIds: options.level === "debug"
  }
}

/** The console's logger, writing to `screen`. Total: a line that cannot be formatted is written as its message. */
export const logger = (screen: Screen, options: Options): Logger.Logger<unknown, void> => {
  const { colors, fiberIds, format } = settingsOf(options)
  return Logger.make((log) => {
    let text: string
    try {
      text = LogFormat.format(LogFormat.entryOf(log, fiberIds), format, colors)
    } catch {
      text = String(log.message)
    }
    screen.lines(text + "\n")
  })
}

/** The console and its logger, on `options.output`; closing the scope erases the status line. */
export const make = (
  options: Options
): Effect.Effect<
  { readonly terminal: Terminal["Type"]; readonly logger: Logger.Logger<unknown, void> },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const { colors, format, hasStatus } = settingsOf(options)
    const screen = yield* Effect.acquireRelease(
      Effect.sync(() => new Screen(options.output, hasStatus)),
      (screen) => Effect.sync(() => screen.clearStatus())
    )
    const announce = (text: string, message: string, annotations: Readonly<Record<string, unknown>> = {}) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const line = format === "pretty"
          ? text
          : LogFormat.format(LogFormat.infoEntry(message, annotations, new Date(now)), format, colors)
        screen.lines(line + "\n")
      })
    const terminal = Terminal.of({
      format,
      level: options.level,
      hasStatus,
      announce,
      status: (text) => Effect.sync(() => screen.showStatus(text)),
      clearStatus: Effect.sync(() => screen.clearStatus())
    })
    return { terminal, logger: logger(screen, options) }
  })

/**
 * The console as a Layer: it provides `Terminal`, replaces Effect's default logger with the console's and sets the
 * minimum log level, for whatever the Layer is provided to.
 */
export const layer = (options: Options): Layer.Layer<Terminal> =>
  Layer.unwrapScoped(
    Effect.map(make(options), ({ logger, terminal }) =>
      Layer.mergeAll(
        Layer.succeed(Terminal, terminal),
        Logger.replace(Logger.defaultLogger, logger),
        Logger.minimumLogLevel(LogFormat.logLevelOf(options.level))
      ))
  )
