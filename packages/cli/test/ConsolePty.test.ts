/**
 * `callstream serve` on a real terminal: the command runs under a pseudo-terminal (util-linux `script`), a
 * simulated bot sends a meeting over a real socket, Ctrl-C is typed, and the test reads the screen as a terminal
 * would show it: the header, one line when the meeting starts and one when it ends with its summary, no connection
 * lines at info, the status line never glued to a log line, and nothing of it left once the command has exited.
 */
import { SampleMeeting } from "@callstream/core"
import { RecallSimulator } from "@callstream/server"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as path from "node:path"
import { afterEach } from "vitest"
import { bin, meetingFigures, root, screenOf, tmp, waitFor } from "./helpers.js"

const TOKEN = "console-token"
const meeting = SampleMeeting.generate({ seed: 7, duration: 10 })

const truth = meetingFigures(meeting.entries)

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`

let running: ChildProcess.ChildProcess | undefined
afterEach(() => {
  running?.kill("SIGKILL")
  running = undefined
})

/** Runs `callstream ARGS` with its stdout on a pseudo-terminal; `raw()` is everything the terminal received. */
const onTerminal = (args: ReadonlyArray<string>) => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("CALLSTREAM_") && key !== "NO_COLOR") env[key] = value
  }
  const command = ["exec", process.execPath, bin, ...args]
    .map((arg, i) => i === 0 ? arg : quote(arg)).join(" ")
  // -q quiet, -f flush at once, -e exit with the command's code, -c the command; the typescript goes nowhere
  const child = ChildProcess.spawn("script", ["-qfec", command, "/dev/null"], {
    cwd: root,
    env: { ...env, TERM: "xterm-256color" },
    stdio: ["pipe", "pipe", "pipe"]
  })
  running = child
  let raw = ""
  child.stdout!.setEncoding("utf8").on("data", (text: string) => (raw += text))
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (raw += text))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, raw: () => raw, exited }
}

/**
 * `callstream serve ARGS` on a terminal, and the meeting replayed into it once its status line is up (so every
 * meeting line is written while the status line is shown).
 */
const serveMeeting = async (args: ReadonlyArray<string>) => {
  const serve = onTerminal(["serve", "--port", "0", "--token", TOKEN, ...args])
  await waitFor("the status line", () => serve.raw().includes("messages/s") || undefined, 120_000)
  const port = Number(/ws:\/\/127\.0\.0\.1:(\d+)\/ws/.exec(serve.raw())![1])
  const sent = await Effect.runPromise(
    RecallSimulator.replay(meeting.entries, { url: `ws://127.0.0.1:${port}/ws?token=${TOKEN}`, speed: Infinity })
  )
  assert.strictEqual(sent.sent, meeting.entries.length)
  return { serve, port }
}

describe("callstream serve on a terminal", () => {
  it("shows the header, one line per meeting start and end, and a status line that never mixes in", async () => {
    const out = tmp()
    const { port, serve } = await serveMeeting(["--out", out, "--session-timeout", "1"])
    await waitFor(
      "the meeting's end",
      () => screenOf(serve.raw()).some((l) => l.includes("meeting ended")) || undefined
    )
    // a status line drawn after the end line, to be erased by what comes next
    const drawn = serve.raw().length
    // a whole one (it may arrive in pieces), with how busy the recorder thread was
    await waitFor(
      "a redraw with the recorder's load",
      () => /messages\/s \d+ {2}audio [\d.]+ s.* {2}recorder busy \d+%/.exec(serve.raw().slice(drawn)) ?? undefined
    )

    serve.child.stdin!.write("\x03") // Ctrl-C, as typed: the terminal sends SIGINT to the command
    assert.strictEqual(await serve.exited, 0, serve.raw())

    const screen = screenOf(serve.raw()).map((line) => line.trimEnd()).filter((line) => line !== "")
    const shown = screen.join("\n")
    assert.include(screen, "callstream is listening. Give Recall this websocket URL:")
    assert.include(screen, `  ws://127.0.0.1:${port}/ws?token=<your token>`)
    assert.include(screen, "auth: query token (1 accepted)")
    assert.include(screen, `recording into ${out}`)
    assert.include(shown, `health: GET http://127.0.0.1:${port}/healthz, metrics: GET http://127.0.0.1:${port}/metrics`)

    const bot = meeting.options.botId
    const started = screen.filter((line) => line.includes("meeting started"))
    assert.strictEqual(started.length, 1, shown)
    assert.match(started[0]!, new RegExp(`^\\d\\d:\\d\\d:\\d\\d meeting started: ${bot} \\(recording `))
    const ended = screen.filter((line) => line.includes("meeting ended"))
    assert.strictEqual(ended.length, 1, shown)
    assert.match(
      ended[0]!,
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d meeting ended \\(timeout\\): ${bot}, [\\d.]+ s, ${truth.participants} participants, ` +
          `${truth.utterances} utterances, ${truth.audioSeconds.toFixed(1)} s of audio, 0 gaps, 0 drops; ` +
          `files in ${path.join(out, bot)}$`
      )
    )

    for (const noise of ["Connection opened", "Connection closed", "Session started", "Session ended"]) {
      assert.notInclude(shown, noise, "connection-level lines only at --log-level debug")
    }
    // a status line glued to a log line would stay on screen; so would one left behind at exit
    assert.isFalse(screen.some((line) => line.includes("messages/s")), shown)
    assert.match(screen.at(-1)!, /^stopped after \d+ messages \([\d.]+ s of mixed audio\)\. Recordings are in /)
    assert.include(serve.raw(), "\x1b[", "a terminal gets colours and line erasing")
  }, 180_000)

  it("recording on the main thread, says so and shows that thread's load as the recorder's", async () => {
    const out = tmp()
    const { serve } = await serveMeeting(["--out", out, "--recorder-threads", "0"])
    // no recorder thread reports a load here: the one shown is the main thread's own
    const drawn = serve.raw().length
    await waitFor(
      "a redraw with the recorder's load",
      () => /messages\/s \d+ {2}audio [\d.]+ s.* {2}recorder busy \d+%/.exec(serve.raw().slice(drawn)) ?? undefined
    )
    serve.child.stdin!.write("\x03")
    assert.strictEqual(await serve.exited, 0, serve.raw())
    const screen = screenOf(serve.raw()).map((line) => line.trimEnd())
    assert.include(screen, `recording into ${out} (on the main thread)`)
    assert.match(screen.filter((line) => line !== "").at(-1)!, /^stopped after \d+ messages/)
  }, 180_000)
})
