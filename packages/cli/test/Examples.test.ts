/**
 * Smoke tests of the runnable programs in `examples/`: each runs as a user runs it (a child process started with
 * tsx from the repository root), the live ones receive a generated meeting from the Recall simulator over a real
 * socket, and every test asserts on what the program printed or wrote, then on how it ended.
 */
import { SampleMeeting } from "@callstream/core"
import { RecallSimulator } from "@callstream/server"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { onTestFinished } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")

// -----------------------------------------------------------------------------
// a running example
// -----------------------------------------------------------------------------

interface Example {
  readonly child: ChildProcess.ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exit: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/**
 * Starts `examples/<name>.ts` with only the given `CALLSTREAM_*` settings (none inherited from this process). The
 * child is killed when the test finishes, whatever happened.
 */
const start = (name: string, options: {
  readonly args?: ReadonlyArray<string>
  readonly env?: Record<string, string>
} = {}): Example => {
  const env: Record<string, string> = { NO_COLOR: "1" }
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("CALLSTREAM_")) env[key] = value
  }
  const child = ChildProcess.spawn(
    process.execPath,
    ["--import", "tsx", path.join("examples", `${name}.ts`), ...(options.args ?? [])],
    { cwd: root, env: { ...env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] }
  )
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (text: string) => (stdout += text))
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  })
  return { child, stdout: () => stdout, stderr: () => stderr, exit }
}

const waitFor = async <A>(what: string, check: () => A | undefined, example?: Example, timeoutMs = 45_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (example !== undefined && (example.child.exitCode !== null || example.child.signalCode !== null)) {
      throw new Error(`the example exited while waiting for ${what}:\n${example.stdout()}\n${example.stderr()}`)
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}:\n${example?.stdout() ?? ""}\n${example?.stderr() ?? ""}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** The ws URL the example printed. */
const urlOf = (example: Example) => waitFor("the ws URL", () => /ws:\/\/[^\s?,]+/.exec(example.stdout())?.[0], example)

/** Ctrl-C: SIGINT, then how the process ended (NodeRuntime.runMain treats the interruption as success: code 0). */
const interrupt = async (example: Example) => {
  example.child.kill("SIGINT")
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`no exit 15 s after SIGINT:\n${example.stdout()}\n${example.stderr()}`)), 15_000)
  )
  return Promise.race([example.exit, timeout])
}

const assertCleanExit = async (example: Example) => {
  const { code, signal } = await interrupt(example)
  assert.strictEqual(signal, null, "ended by itself, not killed by the signal")
  assert.strictEqual(code, 0, `exit code after SIGINT; stderr:\n${example.stderr()}`)
}

/** Runs an example that ends by itself, asserts that it exited 0, and gives what it printed. */
const runToSuccess = async (name: string): Promise<string> => {
  const example = start(name)
  const { code, signal } = await example.exit
  assert.strictEqual(signal, null)
  assert.strictEqual(code, 0, example.stderr())
  return example.stdout()
}

// Fast replays: Recall's 3 s retry spacing shrinks with the speed, so a drop costs the same meeting time.
const SPEED = 20
const replay = (
  meeting: SampleMeeting.SampleMeeting,
  url: string,
  options: Partial<RecallSimulator.Options> = {}
) =>
  Effect.runPromise(
    RecallSimulator.replay(meeting.entries, {
      url,
      speed: SPEED,
      retrySpacing: Duration.millis(3000 / SPEED),
      retries: 10,
      ...options
    })
  )

const names = new Map<number, string>([[100, "Ada Lovelace"], [200, "Grace Hopper"], [300, "Participant 300"]])
const nameOf = (id: number) => names.get(id)!

const mmss = (seconds: number) => {
  const s = Math.floor(seconds)
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
}

const token = () => Crypto.randomBytes(16).toString("hex")

// -----------------------------------------------------------------------------
// live-transcript
// -----------------------------------------------------------------------------

describe("examples/live-transcript.ts", () => {
  it("prints each final utterance with its speaker (and the live tail with --partials), notes the gap, and stops cleanly on SIGINT", async () => {
    const secret = token()
    const example = start("live-transcript", {
      args: ["--partials"],
      env: { CALLSTREAM_HOST: "127.0.0.1", CALLSTREAM_PORT: "0", CALLSTREAM_TOKEN: secret }
    })
    const url = await urlOf(example)
    const meeting = SampleMeeting.generate({ seed: 3, duration: 30 })
    const dropAt = 14
    // half the usual speed: the reconnect's real-time delays weigh less in meeting time on a busy machine
    const result = await replay(meeting, `${url}?token=${secret}`, {
      speed: SPEED / 2,
      retrySpacing: Duration.millis(3000 / (SPEED / 2)),
      drops: [{ atTime: dropAt }]
    })
    assert.strictEqual(result.connections, 2)
    assert.isAbove(result.lost, 0)

    // Recall sends nothing it produced while disconnected: the simulator loses the messages due before its
    // reconnect, a run of `lost` entries from the first one at the drop. How long that run is depends on how busy
    // the machine was; which turns made it through does not need guessing. A turn is sure to be printed when its
    // partial and its final were both sent, and neither in the last 0.2 s before the cut (still in flight then).
    const dropIndex = meeting.entries.findIndex((entry) => entry.at >= dropAt)
    const sent = (index: number) =>
      index < dropIndex ? meeting.entries[index]!.at < dropAt - 0.2 : index >= dropIndex + result.lost
    const entryOf = (event: string, turn: SampleMeeting.Turn) =>
      meeting.entries.findIndex(({ message }) => {
        const m = message as {
          event: string
          data: { data: { words?: Array<{ start_timestamp: { relative: number } }> } }
        }
        return m.event === event && m.data.data.words?.[0]?.start_timestamp.relative === turn.start
      })
    const sure = meeting.turns
      .filter((turn) => sent(entryOf("transcript.partial_data", turn)) && sent(entryOf("transcript.data", turn)))
      .map((turn) => ({ turn }))
    // the turns finished before the drop are always among them
    assert.isAtLeast(sure.length, meeting.turns.filter((turn) => turn.end + 0.8 < dropAt - 0.2).length)
    assert.isAtLeast(sure.length, 3)
    const lastSure = sure[sure.length - 1]!.turn
    await waitFor("the last final", () => example.stdout().includes(`[${mmss(lastSure.start)}] `) || undefined, example)

    const lines = example.stdout().split("\n").filter((l) => /^\[\d\d:\d\d\] /.test(l))
    const byStart = new Map(lines.map((l) => [l.slice(1, 6), l]))
    for (const { turn } of sure) {
      const line = byStart.get(mmss(turn.start))
      assert.isDefined(line, `the utterance of the turn at ${turn.start}s`)
      assert.match(line!, new RegExp(`^\\[${mmss(turn.start)}\\] ${nameOf(turn.participantId)}: \\w+( \\w+)+$`))
    }
    // nothing invented: every printed line is one of the meeting's turns, by the right speaker, once
    assert.isAtMost(lines.length, meeting.turns.length)
    assert.strictEqual(new Set(lines).size, lines.length)
    for (const line of lines) {
      const turn = meeting.turns.find((t) => mmss(t.start) === line.slice(1, 6))
      assert.isDefined(turn, line)
      assert.include(line, `] ${nameOf(turn!.participantId)}: `)
    }
    // --partials: each of those turns showed its live tail (the first half of its words) before its final
    const all = example.stdout().split("\n")
    for (const { turn } of sure) {
      const final = all.findIndex((l) => l.startsWith(`[${mmss(turn.start)}] `))
      const words = all[final]!.slice(all[final]!.indexOf(": ") + 2).split(" ")
      const partial = `... ${nameOf(turn.participantId)}: ${
        words.slice(0, Math.max(1, Math.floor(words.length / 2))).join(" ")
      }`
      const shown = all.findIndex((l) => l === partial)
      assert.isTrue(shown >= 0 && shown < final, `the partial "${partial}" before its final`)
    }
    assert.match(example.stdout(), /=== meeting 5f0c2a7e-[0-9a-f-]+ started ===/)
    const gap = /--- no connection from (\d+\.\d) s to (\d+\.\d) s: what was said then is lost ---/.exec(
      example.stdout()
    )
    assert.isNotNull(gap, "a line for the gap")
    assert.closeTo(Number(gap![1]), dropAt, 0.5)
    // (the server ends a gap at the first timed message after the reconnect; a late transcript final is timed by
    // its first word, which may precede the outage's end, so only the order is certain here)
    assert.isAtLeast(Number(gap![2]), Number(gap![1]))
    await assertCleanExit(example)
  })

  it("refuses to start without a token or an explicit CALLSTREAM_ALLOW_UNAUTHENTICATED, and says which", async () => {
    const example = start("live-transcript", { env: { CALLSTREAM_HOST: "127.0.0.1", CALLSTREAM_PORT: "0" } })
    const { code } = await example.exit
    assert.strictEqual(code, 1)
    assert.include(example.stderr(), "CALLSTREAM_TOKEN")
    assert.include(example.stderr(), "CALLSTREAM_ALLOW_UNAUTHENTICATED=true")
    assert.notInclude(example.stdout(), "ws://")
  })
})

// -----------------------------------------------------------------------------
// record-to-folder
// -----------------------------------------------------------------------------

/** Seconds of audio a WAV file's header announces (16 kHz mono 16-bit). */
const wavSeconds = (file: string): number => {
  const bytes = fs.readFileSync(file)
  assert.strictEqual(bytes.toString("ascii", 0, 4), "RIFF")
  assert.strictEqual(bytes.readUInt32LE(24), 16000, "16 kHz")
  const data = bytes.indexOf("data", 12, "ascii")
  return bytes.readUInt32LE(data + 4) / 32000
}

describe("examples/record-to-folder.ts", () => {
  it("writes the meeting's folder, and Ctrl-C finishes every file", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "callstream-example-"))
    onTestFinished(() => fs.rmSync(out, { recursive: true, force: true }))
    const secret = token()
    const example = start("record-to-folder", {
      args: [out],
      env: { CALLSTREAM_HOST: "127.0.0.1", CALLSTREAM_PORT: "0", CALLSTREAM_TOKEN: secret }
    })
    const url = await urlOf(example)
    const meeting = SampleMeeting.generate({ seed: 3, duration: 30, separate: true, video: true })
    const result = await replay(meeting, `${url}?token=${secret}`, { separateConnections: true })
    assert.strictEqual(result.sent, meeting.entries.length)
    assert.isAbove(result.connections, 1, "separate audio comes on connections of its own")
    // the session is still open (its bot could reconnect): Ctrl-C ends it and must still finish every file
    await assertCleanExit(example)

    const dir = path.join(out, SampleMeeting.DEFAULTS.botId)
    assert.deepStrictEqual(fs.readdirSync(out), [SampleMeeting.DEFAULTS.botId])
    const tape = fs.readFileSync(path.join(dir, "events.jsonl"), "utf8").trim().split("\n")
    assert.strictEqual(tape.length, meeting.entries.length)

    const transcript = fs.readFileSync(path.join(dir, "transcript.txt"), "utf8").trim().split("\n")
    assert.deepStrictEqual(
      transcript.map((line) => line.slice(0, line.indexOf(":", 8) + 1)),
      meeting.turns.map((turn) => `[${mmss(turn.start)}] ${nameOf(turn.participantId)}:`)
    )

    const participants = JSON.parse(fs.readFileSync(path.join(dir, "participants.json"), "utf8"))
    assert.deepStrictEqual(Object.keys(participants).sort(), ["100", "200", "300"])
    for (const id of [100, 200, 300]) {
      const spoken = meeting.turns.filter((t) => t.participantId === id).reduce((s, t) => s + t.end - t.start, 0)
      assert.closeTo(participants[String(id)].talkTime, spoken, 0.01, `talk time of ${id}`)
    }

    assert.closeTo(wavSeconds(path.join(dir, "audio", "mixed.wav")), meeting.options.duration, 0.001)
    for (const id of [100, 200, 300]) assert.isTrue(fs.existsSync(path.join(dir, "audio", `participant-${id}.wav`)))
    const frames = meeting.entries.filter((e) => (e.message as { event: string }).event === "video_separate_png.data")
    assert.strictEqual(fs.readdirSync(path.join(dir, "video", "participant-100", "webcam")).length, frames.length)

    const session = JSON.parse(fs.readFileSync(path.join(dir, "session.json"), "utf8"))
    assert.strictEqual(session.endReason, "shutdown")
    assert.strictEqual(session.connections.length, result.connections)
  })
})

// -----------------------------------------------------------------------------
// live-roster
// -----------------------------------------------------------------------------

interface RosterRow {
  readonly who: string
  readonly status: ReadonlyArray<string>
  readonly talk: number
}

const parseRosterLine = (line: string) => {
  const match = /^([0-9a-f]{8}) \[(\d\d:\d\d)\] (.+)$/.exec(line)
  if (match === null) return undefined
  const rows = match[3]!.split(" | ").map((cell): RosterRow => {
    const cut = cell.lastIndexOf(": ")
    const parts = cell.slice(cut + 2).split(", ")
    return { who: cell.slice(0, cut), status: parts.slice(0, -1), talk: Number(parts[parts.length - 1]!.slice(0, -2)) }
  })
  return { session: match[1]!, at: match[2]!, rows }
}

describe("examples/live-roster.ts", () => {
  it("prints one roster line per change when stdout is not a terminal", async () => {
    const example = start("live-roster", {
      env: { CALLSTREAM_HOST: "127.0.0.1", CALLSTREAM_PORT: "0", CALLSTREAM_ALLOW_UNAUTHENTICATED: "true" }
    })
    const url = await urlOf(example)
    const meeting = SampleMeeting.generate({ seed: 3, duration: 30 })
    await replay(meeting, url)
    // joins (3), webcam on, speech on and off per turn, screenshare on and off, the dial-in leaving
    const changes = 3 + 1 + 2 * meeting.turns.length + 2 + 1
    const roster = await waitFor("every change", () => {
      const lines = example.stdout().split("\n").map(parseRosterLine).filter((l) => l !== undefined)
      return lines.length >= changes && lines[lines.length - 1]!.rows[2]?.status[0] === "left" ? lines : undefined
    }, example)
    assert.strictEqual(roster.length, changes)
    assert.isTrue(roster.every((line) => line.session === SampleMeeting.DEFAULTS.botId.slice(0, 8)))

    const who = ["Ada Lovelace (host)", "Grace Hopper", "Participant 300"]
    const last = roster[roster.length - 1]!
    assert.deepStrictEqual(last.rows.map((row) => row.who), who)
    assert.deepStrictEqual(last.rows.map((row) => row.status), [["present", "webcam"], ["present"], ["left"]])
    // talk time per participant, to the tenth printed
    for (const [index, id] of [100, 200, 300].entries()) {
      const spoken = meeting.turns.filter((t) => t.participantId === id).reduce((s, t) => s + t.end - t.start, 0)
      assert.closeTo(last.rows[index]!.talk, spoken, 0.051, who[index])
    }
    // every turn shows its speaker speaking, alone, from the second the turn starts
    for (const turn of meeting.turns) {
      const index = [100, 200, 300].indexOf(turn.participantId)
      const line = roster.find((l) => l.at === mmss(turn.start) && l.rows[index]!.status.includes("speaking"))
      assert.isDefined(line, `turn of ${turn.participantId} at ${turn.start}`)
    }
    for (const line of roster) assert.isAtMost(line.rows.filter((r) => r.status.includes("speaking")).length, 1)
    assert.isTrue(roster.some((l) => l.rows[0]!.status.includes("screenshare")))
    await assertCleanExit(example)
  })
})

// -----------------------------------------------------------------------------
// monologue-alert
// -----------------------------------------------------------------------------

describe("examples/monologue-alert.ts", () => {
  const meeting = SampleMeeting.generate({ seed: 3, duration: 30 })
  const lengths = meeting.turns.map((t) => t.end - t.start).sort((a, b) => b - a)
  const longest = meeting.turns.find((t) => t.end - t.start === lengths[0])!
  const longestName = nameOf(longest.participantId)

  const run = async (threshold: number) => {
    const secret = token()
    const example = start("monologue-alert", {
      args: ["--threshold", String(threshold)],
      env: {
        CALLSTREAM_HOST: "127.0.0.1",
        CALLSTREAM_PORT: "0",
        CALLSTREAM_TOKEN: secret,
        // the meeting ends 1 s after its bot hangs up, and the example prints its summary
        CALLSTREAM_SESSION_TIMEOUT: "1"
      }
    })
    const url = await urlOf(example)
    await replay(meeting, `${url}?token=${secret}`)
    await waitFor("the summary", () => / ended: \d+ monologue/.test(example.stdout()) || undefined, example)
    await assertCleanExit(example)
    return example.stdout()
  }

  it("alerts once, while the meeting's longest turn is still going, when the threshold is below it", async () => {
    assert.isAbove(lengths[0]! - lengths[1]!, 0.3, "the seed gives one turn clearly longer than the others")
    const threshold = Number(((lengths[0]! + lengths[1]!) / 2).toFixed(1))
    const out = await run(threshold)
    const alerts = out.split("\n").filter((l) => l.startsWith("ALERT"))
    assert.strictEqual(alerts.length, 1, out)
    const alert =
      /^ALERT \[(\d\d):(\d\d\.\d)\] (.+) has been speaking for ([\d.]+) s without interruption \(since (\d\d):(\d\d\.\d)\)$/
        .exec(alerts[0]!)
    assert.isNotNull(alert, alerts[0])
    assert.strictEqual(alert![3], longestName)
    assert.strictEqual(Number(alert![4]), threshold)
    assert.closeTo(Number(alert![5]) * 60 + Number(alert![6]), longest.start, 0.05)
    const at = Number(alert![1]) * 60 + Number(alert![2])
    assert.isAtLeast(at, longest.start + threshold - 0.05)
    assert.isBelow(at, longest.end, "raised before the speaker stopped")
    assert.match(out, new RegExp(`\\] ${longestName} stopped after ${(longest.end - longest.start).toFixed(1)} s`))
    assert.include(out, `ended: 1 monologue(s) over ${threshold} s; longest turn: ${longestName}`)
  })

  it("stays quiet when the threshold is above every turn", async () => {
    const out = await run(lengths[0]! + 0.5)
    assert.notInclude(out, "ALERT")
    assert.include(out, `ended: 0 monologue(s) over`)
    assert.include(out, `longest turn: ${longestName}, ${lengths[0]!.toFixed(1)} s`)
  })
})

// -----------------------------------------------------------------------------
// test-your-pipeline
// -----------------------------------------------------------------------------

describe("examples/test-your-pipeline.ts", () => {
  it("runs its checks to completion and exits 0", async () => {
    const stdout = await runToSuccess("test-your-pipeline")
    const ok = stdout.split("\n").filter((line) => line.startsWith("ok - "))
    assert.deepStrictEqual(ok.map((line) => line.replace(/\d+/g, "N")), [
      "ok - captions from fixtures",
      "ok - talk time from fixtures",
      "ok - after N s of meeting time: the N utterances finished by then, and nothing later",
      "ok - after the whole meeting: all N utterances, in order",
      "ok - talk time from the tape"
    ])
    assert.include(stdout, "all checks passed")
  })

  it("exits non-zero, naming the failed check, when the pipeline is broken", async () => {
    const example = start("test-your-pipeline", { args: ["--break"] })
    const { code } = await example.exit
    assert.strictEqual(code, 1)
    assert.include(example.stderr(), "not ok - captions from fixtures")
    assert.notInclude(example.stdout(), "all checks passed")
  })
})

// -----------------------------------------------------------------------------
// first-pipeline
// -----------------------------------------------------------------------------

describe("examples/first-pipeline.ts", () => {
  it("logs each final utterance of its fixtures, in order, and exits 0", async () => {
    const logged = (await runToSuccess("first-pipeline")).split("\n").filter((line) => line.includes("level=INFO"))
    assert.deepStrictEqual(logged.map((line) => /message="([^"]*)"/.exec(line)?.[1]), [
      "Ada: hello everyone",
      "Ada: let us start"
    ])
  })
})
