import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import { ServerMetrics } from "../src/index.js"
import { ServerLog } from "../src/internal/log.js"

describe("the server's log", () => {
  it.effect("a flood is cut to 100 lines of a kind a second and summed up after; other kinds still get through", () =>
    Effect.gen(function*() {
      let now = 0
      const log = new ServerLog(() => now)
      for (let i = 0; i < 150; i++) log.write("Warning", "Frame could not be decoded", { connection: `c${i}` })
      log.write("Warning", "Memory budget reached", {})
      now = 1_000
      log.write("Info", "Connection opened", { remote: "10.0.0.1\n" })
      log.close()
      const lines: Array<{ message: string; annotations: Record<string, unknown> }> = []
      const capture = Logger.make(({ annotations, message }) => {
        lines.push({
          message: String(Array.isArray(message) ? message[0] : message),
          annotations: Object.fromEntries([...annotations])
        })
      })
      yield* log.run.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      const messages = lines.map((line) => line.message)
      assert.strictEqual(messages.filter((m) => m === "Frame could not be decoded").length, 100)
      assert.deepStrictEqual(messages.slice(100), [
        "Memory budget reached",
        "Log flood: lines suppressed (more than 100 of a kind a second)",
        "Connection opened"
      ])
      assert.strictEqual(lines[101]!.annotations.suppressed, 50)
      assert.strictEqual(lines.at(-1)!.annotations.remote, "10.0.0.1\\n")
      const suppressed = yield* Metric.value(ServerMetrics.logLinesSuppressed)
      assert.strictEqual(suppressed.count, 50)
    }))
})
