/**
 * `callstream serve` with its output on a pipe, as under a process manager: every line is one structured log line
 * (logfmt by default, json on request) that parses on its own, with no escape sequence and no status line; fiber ids
 * and connection lines only at debug.
 */
import { SampleMeeting } from "@callstream/core"
import { RecallSimulator } from "@callstream/server"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as os from "node:os"
import * as path from "node:path"
import { meetingFigures, parseLogfmt, type Run, servedUrl, start, tmp, upgradeStatus, waitFor } from "./helpers.js"

const TOKEN = "structured-token"
const meeting = SampleMeeting.generate({ seed: 11, duration: 8 })
const truth = meetingFigures(meeting.entries)
const bot = meeting.options.botId

/** Serves, plays the meeting, waits for its end, stops with SIGINT; returns the lines printed, parsed. */
const served = async (
  parse: (line: string) => Record<string, unknown>,
  args: ReadonlyArray<string>,
  env: Record<string, string>
) => {
  const out = tmp()
  const serve: Run = start(
    ["serve", "--port", "0", "--token", TOKEN, "--out", out, "--session-timeout", "1", ...args],
    env
  )
  const { url } = await servedUrl(serve)
  await Effect.runPromise(RecallSimulator.replay(meeting.entries, { url: `${url}?token=${TOKEN}`, speed: Infinity }))
  await waitFor("the meeting's end", () => serve.stdout.includes("meeting ended") || undefined)
  serve.child.kill("SIGINT")
  assert.strictEqual(await serve.exited, 0, serve.stderr)
  assert.notInclude(serve.stdout, "\x1b", "no escape sequence off a terminal")
  assert.notInclude(serve.stdout, "messages/s", "no status line off a terminal")
  assert.isTrue(serve.stdout.endsWith("\n"))
  const lines = serve.stdout.slice(0, -1).split("\n").map(parse)
  return { out, lines }
}

const withMessage = (lines: ReadonlyArray<Record<string, unknown>>, prefix: string) =>
  lines.filter((line) => String(line.message).startsWith(prefix))

describe("callstream serve off a terminal", () => {
  it("logfmt by default: one line per event, each parsing whole; the meeting's lines carry its figures", async () => {
    const { lines, out } = await served(parseLogfmt, [], { CALLSTREAM_LOG_FORMAT: "", NODE_OPTIONS: "" })
    for (const line of lines) {
      assert.match(String(line.timestamp), /^\d{4}-\d\d-\d\dT/)
      assert.oneOf(line.level, ["INFO", "WARN", "ERROR"])
      assert.notProperty(line, "fiber", "no fiber ids below debug")
    }
    const [listening] = withMessage(lines, "listening")
    assert.match(String(listening!.url), /^ws:\/\/127\.0\.0\.1:\d+\/ws\?token=<your token>$/)
    assert.strictEqual(listening!.destination, `recording into ${out}`)
    // the tip on Node's thread pool comes on a machine of two cores or fewer, where it was measured
    if (os.availableParallelism() <= 2) assert.include(String(listening!.tip), "NODE_OPTIONS=--v8-pool-size=1")
    else assert.notProperty(listening, "tip")

    const started = withMessage(lines, "meeting started")
    assert.strictEqual(started.length, 1)
    assert.strictEqual(started[0]!.session, bot)
    const ended = withMessage(lines, "meeting ended")
    assert.strictEqual(ended.length, 1)
    assert.deepInclude(ended[0], {
      session: bot,
      reason: "timeout",
      participants: String(truth.participants),
      utterances: String(truth.utterances),
      audio_s: String(Math.round(truth.audioSeconds * 10) / 10),
      gaps: "0",
      drops: "0",
      where: `files in ${path.join(out, bot)}`
    })
    assert.deepStrictEqual(withMessage(lines, "Connection"), [], "connection lines only at debug")
    assert.strictEqual(lines.at(-1)!.message, "stopped")
  }, 120_000)

  it("json with --log-format json; at debug (CALLSTREAM_LOG_LEVEL) connections show, with fiber ids", async () => {
    const { lines } = await served(JSON.parse, ["--log-format", "json"], {
      CALLSTREAM_LOG_LEVEL: "debug",
      NODE_OPTIONS: "--v8-pool-size=1"
    })
    assert.notProperty(withMessage(lines, "listening")[0], "tip", "no tip once Node's pool size is set")
    assert.strictEqual(withMessage(lines, "meeting started").length, 1)
    assert.strictEqual(withMessage(lines, "meeting ended").length, 1)
    const opened = withMessage(lines, "Connection opened")
    assert.strictEqual(opened.length, 1)
    assert.strictEqual(opened[0]!.level, "DEBUG")
    assert.match(String(opened[0]!.fiber), /^#\d+$/)
    assert.match(String(opened[0]!.remote), /^127\.0\.0\.1/)
  }, 120_000)

  it("a reader that goes away (serve | head) never takes the server down", async () => {
    const serve = start(["serve", "--port", "0", "--allow-unauthenticated", "--out", tmp(), "--log-level", "debug"])
    const { port } = await servedUrl(serve)
    await waitFor("the header", () => serve.stdout.includes("recording into") || undefined)
    serve.child.stdout!.destroy()
    // each upgrade logs lines at debug, into a pipe nobody reads any more
    for (let i = 0; i < 20; i++) assert.include(await upgradeStatus(port, ""), "101")
    const health = await fetch(`http://127.0.0.1:${port}/healthz`)
    assert.strictEqual(health.status, 200)
    assert.strictEqual(serve.child.exitCode, null, serve.stderr)
    serve.child.kill("SIGINT")
    assert.strictEqual(await serve.exited, 0, serve.stderr)
  }, 120_000)
})
