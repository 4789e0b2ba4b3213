/**
 * The console's logger on an output the test holds: on a terminal, every log line clears the status line, is
 * written, and the status line is drawn again below it; closing the console erases it. Off a terminal: structured
 * lines only, no status line, no escape sequence. Levels filter what is written.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Terminal from "../src/internal/terminal.js"
import { screenOf } from "./helpers.js"

/** An output that keeps every write, as a terminal `columns` wide or as a pipe. */
const collector = (isTTY: boolean, columns = 80) => {
  const writes: Array<string> = []
  return { writes, output: { write: (text: string) => writes.push(text), isTTY, columns } }
}

const STATUS = "sessions 1  connections 2  messages/s 30  audio 4.0 s"

const program = Effect.gen(function*() {
  const terminal = yield* Terminal.Terminal
  yield* terminal.status(STATUS)
  yield* Effect.logInfo("meeting started: bot-1")
  yield* Effect.logDebug("Connection opened").pipe(Effect.annotateLogs({ connection: "c-1" }))
  yield* Effect.logWarning("Frame could not be decoded").pipe(Effect.annotateLogs({ session: "bot-1" }))
  yield* terminal.status(STATUS.replace("30", "31"))
  yield* Effect.logError("a failure", Cause.fail(new Error("boom")))
  yield* terminal.announce("stopped, pretty", "stopped", { messages: 3 })
})

describe("the console on a terminal", () => {
  it.effect("log lines go above the status line, never into it; closing the console erases it", () =>
    Effect.gen(function*() {
      const { output, writes } = collector(true)
      yield* program.pipe(Effect.provide(Terminal.layer({ output, level: "info", colors: false })))
      const raw = writes.join("")

      // each log line was written as: erase the status line, the line, the status line again
      const logWrites = writes.filter((w) => w.includes("meeting started") || w.includes("WARN"))
      assert.strictEqual(logWrites.length, 2)
      for (const write of logWrites) {
        assert.isTrue(write.startsWith(Terminal.CLEAR_LINE), JSON.stringify(write))
        assert.isTrue(write.endsWith(`\n${STATUS}`) || write.endsWith(`\n${STATUS.replace("30", "31")}`))
      }
      assert.strictEqual(writes.at(-1), Terminal.CLEAR_LINE, "the last write erases the status line")

      const screen = screenOf(raw).filter((line) => line !== "").map((line) => line.replace(/^\d\d:\d\d:\d\d /, ""))
      assert.deepStrictEqual(screen.slice(0, 4), [
        "meeting started: bot-1",
        "WARN Frame could not be decoded session=bot-1",
        "ERROR a failure",
        "    Error: boom"
      ])
      // the rest of the cause (its stack), indented under its line, then the last words
      assert.isTrue(screen.slice(4, -1).every((line) => line.startsWith("    ")), screen.join("\n"))
      assert.strictEqual(screen.at(-1), "stopped, pretty")
      assert.isFalse(screen.some((line) => line.includes("messages/s")), "no status text left on the screen")
      assert.notInclude(raw, "Connection opened", "debug lines are not written at info")
    }))

  it.effect("the status line is cut to the terminal's width, so erasing one line erases all of it", () =>
    Effect.gen(function*() {
      const { output, writes } = collector(true, 30)
      yield* Effect.gen(function*() {
        const terminal = yield* Terminal.Terminal
        yield* terminal.status(STATUS)
      }).pipe(Effect.provide(Terminal.layer({ output, level: "info" })))
      assert.strictEqual(writes[0], Terminal.CLEAR_LINE + STATUS.slice(0, 29))
    }))

  it.effect("at debug, connection lines show, with the fiber that logged them", () =>
    Effect.gen(function*() {
      const { output, writes } = collector(true)
      yield* program.pipe(Effect.provide(Terminal.layer({ output, level: "debug", colors: false })))
      const line = screenOf(writes.join("")).find((l) => l.includes("Connection opened"))
      assert.match(line!, /DEBUG Connection opened connection=c-1 #\d+$/)
    }))

  it.effect("at warning, info lines are left out but what the console announces still shows", () =>
    Effect.gen(function*() {
      const { output, writes } = collector(true)
      yield* program.pipe(Effect.provide(Terminal.layer({ output, level: "warning", colors: false })))
      const raw = writes.join("")
      assert.notInclude(raw, "meeting started")
      assert.include(raw, "Frame could not be decoded")
      assert.include(raw, "stopped, pretty")
    }))
})

describe("the console off a terminal", () => {
  it.effect("logfmt by default: one structured line per event, no status line, no escape sequence", () =>
    Effect.gen(function*() {
      const { output, writes } = collector(false)
      yield* program.pipe(Effect.provide(Terminal.layer({ output, level: "info" })))
      const raw = writes.join("")
      assert.notInclude(raw, "\x1b")
      assert.notInclude(raw, "messages/s")
      const lines = raw.split("\n").filter((line) => line !== "")
      assert.strictEqual(lines.length, 4)
      for (const line of lines) assert.match(line, /^timestamp=\S+ level=(INFO|WARN|ERROR) message=/)
      assert.notInclude(raw, "fiber=", "no fiber ids below debug")
      assert.include(lines[3]!, "message=stopped messages=3")
    }))

  it.effect("json on request, colours never", () =>
    Effect.gen(function*() {
      const { output, writes } = collector(true)
      yield* program.pipe(Effect.provide(Terminal.layer({ output, level: "info", format: "json" })))
      const lines = writes.join("").split("\n").filter((line) => line !== "")
      const parsed = lines.map((line) => JSON.parse(line))
      assert.deepStrictEqual(parsed.map((p) => p.level), ["INFO", "WARN", "ERROR", "INFO"])
      assert.strictEqual(parsed[1].session, "bot-1")
      assert.include(parsed[2].cause, "boom")
      assert.notInclude(writes.join(""), "\x1b")
    }))
})
