/**
 * Fuzzes a live server in a process of its own: 100,000+ frames (valid meetings of fresh bots with damaged
 * envelopes, random JSON and random bytes interleaved, text and binary frames) over several connections at once,
 * then checks and prints what became of them.
 *
 *   npm run fuzz                                   # or: npx tsx packages/server/scripts/fuzz.ts
 *   npm run fuzz -- --frames 300000 --connections 16 --seed 42
 *
 * The server runs a consumer that reads every event. Checks: the server process is still up and healthy; every
 * frame was decoded or failed (`callstream_messages_total` + `callstream_decode_failures_total`); every frame has
 * exactly one outcome (a message or a `DecodeFailed` the consumer got, or a frame counted as unroutable, refused or
 * shed); every valid meeting arrived whole and in order; no frame needed the last line of defence; each text frame
 * that was not UTF-8 closed its connection with 1007. Exits 1 when a check fails.
 */
import type { SessionEvent } from "@callstream/core"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"
import { WebSocket } from "ws"
import { RecallServer } from "../src/index.js"
import { acceptable, type Scenario, scenario } from "../test/frames.js"

const digest = (text: string) => Crypto.createHash("sha1").update(text).digest("base64").slice(0, 12)

// -----------------------------------------------------------------------------
// the server, in its own process
// -----------------------------------------------------------------------------

interface Stats {
  readonly messages: number
  readonly decodeFailed: Record<string, number>
  readonly sessions: number
  readonly rss: number
  readonly heapUsed: number
}

const serve = Effect.gen(function*() {
  const server = yield* RecallServer.RecallServer
  let messages = 0
  const decodeFailed: Record<string, number> = {}
  // per session, a short digest of every raw message, to check meetings arrived whole and in order
  const received = new Map<string, Array<string>>()
  const count = (item: SessionEvent.SessionEvent) => {
    if (item._tag === "Message") {
      messages++
      const list = received.get(item.session)
      if (list === undefined) received.set(item.session, [digest(item.raw ?? "")])
      else list.push(digest(item.raw ?? ""))
    } else if (item._tag === "DecodeFailed") {
      decodeFailed[item.error.reason] = (decodeFailed[item.error.reason] ?? 0) + 1
    }
  }
  yield* server.events.pipe(Stream.runForEach((item) => Effect.sync(() => count(item))), Effect.forkScoped)
  const reply = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)
  reply({ url: server.address.url, port: server.address.port })
  // commands on stdin, one JSON line each: stats, or check a meeting's digests against what arrived
  const lines = Readline.createInterface({ input: process.stdin })
  yield* Effect.async<void>((resume) => {
    lines.on("line", (line) => {
      const command = JSON.parse(line) as { stats?: true; check?: ReadonlyArray<[string, ReadonlyArray<string>]> }
      if (command.stats) {
        const memory = process.memoryUsage()
        const stats: Stats = {
          messages,
          decodeFailed,
          sessions: received.size,
          rss: memory.rss,
          heapUsed: memory.heapUsed
        }
        reply(stats)
      } else if (command.check !== undefined) {
        const incomplete: Array<string> = []
        for (const [session, meeting] of command.check) {
          let next = 0
          for (const d of received.get(session) ?? []) if (d === meeting[next]) next++
          if (next !== meeting.length) incomplete.push(session)
        }
        reply({ incomplete })
      }
    })
    lines.on("close", () => resume(Effect.void))
  })
})

const runServer = () =>
  serve.pipe(
    Effect.provide(
      RecallServer.layer({
        host: "127.0.0.1",
        port: 0,
        allowUnauthenticated: true,
        // garbage names many sessions: let one connection feed them all
        maxSessionsPerConnection: 100_000,
        sessionTimeout: "10 seconds"
      }).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.None)))
    ),
    Effect.scoped,
    Effect.runPromise
  )

// -----------------------------------------------------------------------------
// the fuzzer
// -----------------------------------------------------------------------------

const argument = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`)
  const value = at < 0 ? fallback : Number(process.argv[at + 1])
  if (!Number.isSafeInteger(value) || value < 1) {
    process.stderr.write(`--${name} expects a whole number of at least 1\n`)
    process.exit(2)
  }
  return value
}

const totalOf = (text: string, name: string): number => {
  let sum = 0
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(" ") + 1))
  }
  return sum
}

const fuzz = async () => {
  const target = argument("frames", 100_000)
  const connections = argument("connections", 16)
  const seed = argument("seed", Math.floor(Math.random() * 2 ** 31))

  const child = ChildProcess.spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--serve"], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  let exited: number | null | undefined
  child.on("exit", (code) => {
    exited = code
  })
  const replies = Readline.createInterface({ input: child.stdout! })
  const waiting: Array<(line: string) => void> = []
  replies.on("line", (line) => waiting.shift()?.(line))
  const ask = (command: unknown) =>
    new Promise<any>((resolve) => {
      waiting.push((line) => resolve(JSON.parse(line)))
      if (command !== undefined) child.stdin!.write(`${JSON.stringify(command)}\n`)
    })
  const { port, url } = await ask(undefined)
  const http = (path: string) => fetch(`http://127.0.0.1:${port}${path}`)
  const metrics = async () => (await http("/metrics")).text()

  // frames: scenarios of fresh bots until the target is reached
  const started = Date.now()
  const scenarios: Array<Scenario> = []
  let planned = 0
  for (let round = 0; planned < target; round++) {
    const batch = FastCheck.sample(scenario(FastCheck.uuid().map((id) => `bot-${id}`), { maxGarbage: 16 }), {
      seed: seed + round,
      numRuns: 1_000
    })
    for (const s of batch) {
      scenarios.push(s)
      planned += s.frames.length
      if (planned >= target) break
    }
  }
  process.stderr.write(
    `seed ${seed}: ${scenarios.length} meetings, ${planned} frames, generated in ${Date.now() - started} ms\n`
  )

  const before = await metrics()
  let processed = 0
  let protocolErrors = 0
  let closedWith1007 = 0
  let opened = 0
  let peakRss = 0
  const sampler = setInterval(async () => {
    if (exited !== undefined) return
    const stats: Stats = await ask({ stats: true })
    peakRss = Math.max(peakRss, stats.rss)
  }, 1_000)

  const open = () =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.once("open", () => {
        opened++
        resolve(ws)
      })
      ws.once("error", reject)
    })
  const closed = (ws: WebSocket) =>
    new Promise<number>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) resolve(-1)
      else ws.once("close", (code) => resolve(code))
    })
  const drained = async (ws: WebSocket) => {
    while (ws.bufferedAmount > 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 1))
  }

  const sendStart = Date.now()
  let next = 0
  const worker = async () => {
    while (next < scenarios.length) {
      const run = scenarios[next++]!
      // each meeting on a fresh connection: garbage often comes first on it
      let ws = await open()
      for (const frame of run.frames) {
        await drained(ws)
        ws.send(frame.data, { binary: frame.binary })
        if (acceptable(frame)) {
          processed++
          continue
        }
        protocolErrors++
        if ((await closed(ws)) === 1007) closedWith1007++
        ws = await open()
      }
      ws.close()
    }
  }
  await Promise.all(Array.from({ length: connections }, worker))
  const sendMs = Date.now() - sendStart

  // wait until every frame has an outcome the consumer saw or a metric counted
  let after = await metrics()
  let stats: Stats = await ask({ stats: true })
  const outcomes = () => {
    const delta = (name: string) => totalOf(after, name) - totalOf(before, name)
    const failed = Object.values(stats.decodeFailed).reduce((a, b) => a + b, 0)
    return {
      decoded: delta("callstream_messages_total"),
      failed: delta("callstream_decode_failures_total"),
      unrouted: delta("callstream_unrouted_frames_total"),
      refused: delta("callstream_refused_frames_total"),
      shed: delta("callstream_dropped_total"),
      internalErrors: delta("callstream_internal_errors_total"),
      connections: delta("callstream_connections_total"),
      settled: stats.messages + failed + delta("callstream_unrouted_frames_total") +
        delta("callstream_refused_frames_total") + delta("callstream_dropped_total")
    }
  }
  const deadline = Date.now() + 60_000
  while (outcomes().settled < processed && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    after = await metrics()
    stats = await ask({ stats: true })
  }
  clearInterval(sampler)
  peakRss = Math.max(peakRss, stats.rss)
  const result = outcomes()
  const { incomplete } = await ask({
    check: scenarios.map((s) => [s.botId, s.meeting.map(digest)])
  })
  const health = await http("/healthz")
  const up = exited === undefined && health.status === 200

  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
  const rows: Array<[string, string | number]> = [
    ["frames sent", processed + protocolErrors],
    ["  accepted by the websocket layer", processed],
    ["  text frames not UTF-8 (connection closed)", `${protocolErrors} (${closedWith1007} with 1007)`],
    ["frames/s (sending, all connections)", Math.round((processed + protocolErrors) / (sendMs / 1000))],
    ["decoded (callstream_messages_total)", result.decoded],
    ["failed to decode (callstream_decode_failures_total)", result.failed],
    ["messages the consumer got", stats.messages],
    ...Object.entries(stats.decodeFailed).map(([reason, n]): [string, number] => [`DecodeFailed ${reason}`, n]),
    ["unroutable", result.unrouted],
    ["refused (session limits)", result.refused],
    ["media shed", result.shed],
    ["one outcome per frame", `${result.settled} of ${processed}`],
    ["meetings", scenarios.length],
    ["meetings not whole", incomplete.length],
    ["internal errors", result.internalErrors],
    ["connections opened", `${opened} (server counted ${result.connections})`],
    ["sessions seen by the consumer", stats.sessions],
    ["server RSS now / peak", `${mib(stats.rss)} / ${mib(peakRss)}`],
    ["server heap used", mib(stats.heapUsed)],
    ["server process up, /healthz", up ? `yes, ${health.status}` : `NO (exit ${exited}, /healthz ${health.status})`]
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`)

  const failures = [
    ...(up ? [] : ["the server process is down"]),
    ...(result.decoded + result.failed === processed ? [] : ["decoded + failed differs from the frames accepted"]),
    ...(result.settled === processed ? [] : ["not every frame has exactly one outcome"]),
    ...(incomplete.length === 0 ? [] : [`${incomplete.length} meetings not whole, e.g. ${incomplete[0]}`]),
    ...(result.internalErrors === 0 ? [] : ["frames reached the last line of defence"]),
    ...(closedWith1007 === protocolErrors ? [] : ["a text frame that was not UTF-8 did not close with 1007"])
  ]
  child.stdin!.end()
  await new Promise((resolve) => (exited === undefined ? child.once("exit", resolve) : resolve(undefined)))
  if (failures.length > 0) {
    process.stdout.write(`FAILED (seed ${seed}):\n${failures.map((f) => `  - ${f}`).join("\n")}\n`)
    process.exit(1)
  }
  process.stdout.write(`all checks passed (seed ${seed})\n`)
}

if (process.argv.includes("--serve")) runServer()
else fuzz()
