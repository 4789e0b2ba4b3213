import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { BOT, ffprobe, ffprobeAvailable, sample, tempDir, wavOf, writeTape } from "./recording.js"

const CHILD = fileURLToPath(new URL("./child/record-tape.ts", import.meta.url))
const SPEED = 2
const PATCH_MS = 250
// data reaches the file once per flush, and the header is patched in the first flush at least PATCH_MS after the
// last patch (both given to the child, so the bound does not follow the recorder's defaults)
const FLUSH_MS = 250
// wall-clock slack for a loaded machine (a stalled event loop lets the source deliver a burst in one flush, and
// delays the patch): CI saw 4 s of it with the whole suite running. A header never patched after the first flushes
// lags by all the audio on disk, at least KILL_AFTER_S of it, which is well past the bound this gives (11 s of audio)
const SLACK_MS = 5_000
// how much of the 30-s meeting is on disk before the kill
const KILL_AFTER_S = 16

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("a recorder killed mid-session", () => {
  it("leaves WAV files whose header declares no byte it does not hold, and lags the data by a bounded amount", async () => {
    const dir = tempDir()
    const tape = writeTape(dir, sample().entries)
    const out = path.join(dir, "out")
    const child = spawn(process.execPath, [
      "--import",
      "tsx",
      CHILD,
      tape,
      out,
      String(SPEED),
      String(PATCH_MS),
      String(FLUSH_MS)
    ], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_, signal) => resolve(signal)))
    const mixedPath = path.join(out, BOT, "audio", "mixed.wav")
    // wait (bounded) until KILL_AFTER_S of the meeting are on disk, then kill without warning
    const deadline = Date.now() + 45_000
    while (Date.now() < deadline && child.exitCode === null) {
      if (fs.existsSync(mixedPath) && fs.statSync(mixedPath).size > 44 + 32_000 * KILL_AFTER_S) break
      await sleep(20)
    }
    assert.isNull(child.exitCode, `the recorder ended before it was killed: ${stderr}`)
    child.kill("SIGKILL")
    assert.strictEqual(await exited, "SIGKILL")

    const files = fs.readdirSync(path.join(out, BOT, "audio")).filter((name) => name.endsWith(".wav"))
    assert.include(files, "mixed.wav")
    // the bytes of meeting audio that arrive in a patch interval and a flush interval, plus the slack, at SPEED
    const slack = 32_000 * SPEED * ((PATCH_MS + FLUSH_MS + SLACK_MS) / 1000)
    for (const name of files) {
      const file = path.join(out, BOT, "audio", name)
      const wav = wavOf(file)
      const written = wav.samples.length * 2
      assert.strictEqual(wav.rate, 16_000)
      assert.isAtMost(wav.declared, written, `${name} declares no byte it does not hold`)
      assert.isAtMost(written - wav.declared, slack, `${name} header lags by at most a patch and a flush interval`)
      if (ffprobeAvailable()) {
        const probe = ffprobe(file, "format=duration")
        assert.approximately(Number(probe.format.duration), wav.declared / 32_000, 0.001, `${name} in ffprobe`)
      }
    }
    const mixed = wavOf(mixedPath)
    assert.isAbove(mixed.declared, 32_000 * KILL_AFTER_S - slack, "the kill came after seconds of audio were declared")
  })
})
