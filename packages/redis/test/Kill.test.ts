import { type SessionEvent, SessionKey } from "@callstream/core"
import * as Publisher from "@callstream/redis/Publisher"
import * as RedisEventLog from "@callstream/redis/RedisEventLog"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { audio, closed, describe as show, ended, opened, started, words } from "./events.js"
import { serverForFile } from "./redisForFile.js"
import { redisAvailable, type RedisServer } from "./redisServer.js"

const CHILD = fileURLToPath(new URL("./child/store-worker.ts", import.meta.url))
const TIMEOUT = 95_000

const meeting = (key: string) => {
  const session = SessionKey.make(key)
  const out: Array<SessionEvent.SessionEvent> = [started(0, session), opened("c", 0, session)]
  for (let i = 0; i < 100; i++) {
    out.push(audio(i / 10, i * 100, "c", session))
    if (i % 10 === 9) out.push(words(`utterance ${i}`, i / 10, i * 100 + 50, "c", session))
  }
  return [...out, closed("c", 10_000, session), ended("timeout", 10_000 + TIMEOUT, session)]
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// the whole lines of the store: the child may be writing the last one as it is read (or have been killed mid-line)
const lines = (file: string): Array<{ session: string; position: string; event: string }> => {
  if (!Fs.existsSync(file)) return []
  const text = Fs.readFileSync(file, "utf8")
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter((line) => line !== "").map((line) =>
    JSON.parse(line)
  )
}

const start = (server: RedisServer, file: string): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, server.url, "kill:", file, "7"], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    child.stderr!.on("data", (chunk) => (stderr += chunk))
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve(child)
    })
    child.on("exit", (code) => reject(new Error(`the worker exited (${code}): ${stderr}`)))
  })

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

const withRedis = redisAvailable()

describe.skipIf(!withRedis)("a worker process killed mid-session", () => {
  const redis = serverForFile()

  it("is taken over by another: pending entries claimed, each event stored exactly once, in order", async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "callstream-kill-"))
    const file = Path.join(dir, "store.jsonl")
    const keys = ["bot-k1", "bot-k2"]
    const expected = new Map(keys.map((key) => [key, meeting(key).map(show)]))
    await Effect.runPromise(
      Effect.forEach(
        keys,
        (key) =>
          Publisher.run(Stream.fromIterable(meeting(key)).pipe(Stream.rechunk(1)), { partitions: 4, coalesce: 0 }),
        {
          discard: true
        }
      ).pipe(
        Effect.provide(RedisEventLog.layer({ url: Redacted.make(redis().url), prefix: "kill:" }))
      )
    )
    const total = Array.from(expected.values()).reduce((n, events) => n + events.length, 0)

    const first = await start(redis(), file)
    const deadline = Date.now() + 45_000
    while (lines(file).length < total / 2 && Date.now() < deadline) await sleep(5)
    await killed(first)
    const before = lines(file).length
    assert.isAbove(before, 0)
    assert.isBelow(before, total, "killed before it finished")

    const second = await start(redis(), file)
    try {
      while (lines(file).filter((line) => line.event.startsWith("SessionEnded")).length < 2 && Date.now() < deadline) {
        await sleep(20)
      }
    } finally {
      await killed(second)
    }
    const stored = lines(file)
    for (const key of keys) {
      const mine = stored.filter((line) => line.session === key)
      assert.deepStrictEqual(mine.map((line) => line.event), expected.get(key), `${key}: every event exactly once`)
      const positions = mine.map((line) => line.position)
      assert.deepStrictEqual(positions, [...positions].sort())
    }
    Fs.rmSync(dir, { recursive: true, force: true })
  })
})
