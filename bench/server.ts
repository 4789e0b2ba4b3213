/**
 * Server throughput: callstream's whole receive path (upgrade, frames decoded in order, session routing, buffer
 * policy, a consumer reading the flat event Stream) against a bare `ws` server that only `JSON.parse`s each
 * frame, in the same process run, on the same generated load.
 *
 *   npx tsx bench/server.ts            # or: npm run bench
 *
 * The load is a meeting-like mix built in code with core's Fixtures (the shapes of Recall's documented
 * payloads): mostly 100 ms audio chunks (mixed and per participant), plus transcripts, partials and participant
 * events. A worker thread plays Recall and sends it over several connections as fast as the server takes it, so
 * the client's own work does not run on the server's thread.
 *
 * Rounds interleave the two servers (alternating which goes first); each figure is the median with its
 * interquartile range, and the ratio is taken per round, then its median. Two measures: wall-clock messages per
 * second (what a sender sees; on a small machine the client competes for the same cores, which caps the bare
 * server), and the server thread's busy time per message (event loop utilisation: the cost of the pipeline itself,
 * less sensitive to the client). `BENCH_MESSAGES`, `BENCH_ROUNDS`, `BENCH_CONNECTIONS` change the load;
 * `BENCH_ONLY=bare|callstream` runs one side (for profiling). A round fails, rather than waits forever, if the
 * server shed media (it should not: its consumer keeps up) or stops short of every message.
 *
 * Then memory per connection: a server in a fresh process of its own, another process opens `BENCH_IDLE` (default
 * 2,000) authenticated connections that send nothing, then one message each (so each also holds a session); the
 * growth of the server's RSS and V8 heap (after a full collection) is divided by the number of connections, the
 * median over `BENCH_IDLE_ROUNDS` (default 3) rounds.
 */
import { Fixtures } from "@callstream/core"
import { RecallServer } from "@callstream/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import type * as Net from "node:net"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { WebSocketServer } from "ws"
import { collect } from "./collect.js"
import { median, quantile } from "./load/stats.js"

const messagesPerRound = Number(process.env.BENCH_MESSAGES ?? 40_000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 8)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 4)

// -- the load -------------------------------------------------------------------

const participants = [100, 200, 300].map((id) =>
  Fixtures.participant({ id, name: id === 300 ? null : `Speaker ${id}`, platform: id === 300 ? "dial-in" : "desktop" })
)
const pool: Array<string> = []
for (let i = 0; i < 200; i++) {
  const at = i / 10
  const participant = participants[i % 3]!
  const samples = Fixtures.tone(330 + 220 * (i % 3), at, 0.1)
  const r = i % 20
  const message = r < 12
    ? Fixtures.audio({ at, samples })
    : r < 16
    ? Fixtures.audio({ at, samples, separate: true, participant })
    : r === 16
    ? Fixtures.transcript("so the plan for the release is to ship the parser first", { at, participant, final: false })
    : r === 17
    ? Fixtures.transcript("so the plan for the release is to ship the parser first and then the server", {
      at,
      participant,
      languageCode: "en"
    })
    : r === 18
    ? Fixtures.speech(i % 40 < 20 ? "participant_events.speech_on" : "participant_events.speech_off", {
      at,
      participant
    })
    : Fixtures.participantEvent("participant_events.update", { at, participant })
  pool.push(JSON.stringify(message))
}
const poolBytes = pool.reduce((n, text) => n + Buffer.byteLength(text), 0) / pool.length

// -- the client, in a worker thread -----------------------------------------------

const wsPath = createRequire(import.meta.url).resolve("ws")
const clientSource = `
const { parentPort, workerData } = require("node:worker_threads")
const WebSocket = require(workerData.wsPath)
const { url, pool, total, connections } = workerData
let done = 0
const share = Math.ceil(total / connections)
for (let c = 0; c < connections; c++) {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  ws.on("error", (e) => { throw e })
  ws.on("open", () => {
    let i = c * share
    const end = Math.min(total, i + share)
    const pump = () => {
      while (i < end) {
        const text = pool[i % pool.length]
        i++
        if (ws.bufferedAmount > 4 * 1024 * 1024) return ws.send(text, pump)
        ws.send(text)
      }
      ws.send(pool[0], () => { if (++done === connections) parentPort.postMessage("sent") })
    }
    pump()
  })
}
`
// each connection sends one extra frame to know when it flushed: the server expects total + connections

const playRecall = (url: string, total: number) =>
  new Promise<void>((resolve, reject) => {
    const worker = new Worker(clientSource, { eval: true, workerData: { url, pool, total, connections, wsPath } })
    worker.once("message", () => {
      void worker.terminate()
      resolve()
    })
    worker.once("error", reject)
  })

// -- the two servers ------------------------------------------------------------

interface Run {
  readonly url: string
  readonly received: () => number
  /** Messages the server shed (reported by `Dropped` events). */
  readonly shed?: () => number
  readonly close: () => Promise<void>
}

const bareServer = (): Promise<Run> =>
  new Promise((resolve) => {
    let count = 0
    let sink = 0
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 16 * 1024 * 1024 }, () => {
      const { port } = wss.address() as Net.AddressInfo
      resolve({
        url: `ws://127.0.0.1:${port}/ws`,
        received: () => count + (sink === -1 ? 1 : 0),
        close: () =>
          new Promise((done) => {
            for (const client of wss.clients) client.terminate()
            wss.close(() => done())
          })
      })
    })
    wss.on("connection", (ws) => {
      ws.on("message", (data: Buffer) => {
        const json = JSON.parse(data.toString("utf8"))
        sink ^= json.event.length
        count++
      })
    })
  })

const callstreamServer = async (): Promise<Run> => {
  const scope = Effect.runSync(Scope.make())
  const layer = RecallServer.layer({ host: "127.0.0.1", port: 0, allowUnauthenticated: true }).pipe(
    Layer.provide(Logger.minimumLogLevel(LogLevel.None))
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const server = Context.get(context, RecallServer.RecallServer)
  let count = 0
  let shed = 0
  Effect.runFork(
    server.events.pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.sync(() => {
          for (const item of chunk) {
            if (item._tag === "Message") count++
            else if (item._tag === "Dropped") shed += item.count
          }
        })
      )
    )
  )
  return {
    url: server.address.url,
    received: () => count,
    shed: () => shed,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** Waits until `run` counted `expected` messages; fails if it shed any, or counted nothing more for 30 s. */
const allReceived = (run: Run, expected: number) =>
  new Promise<void>((resolve, reject) => {
    let last = run.received()
    let lastChange = performance.now()
    const tick = () => {
      const received = run.received()
      if (received >= expected) return resolve()
      const shed = run.shed?.() ?? 0
      if (received !== last) {
        last = received
        lastChange = performance.now()
      }
      if (shed > 0 || performance.now() - lastChange > 30_000) {
        return reject(new Error(`received ${received} of ${expected} messages, ${shed} shed`))
      }
      setTimeout(tick, 2)
    }
    tick()
  })

interface Measure {
  /** Messages per wall-clock second, from the first connection to the last message counted. */
  readonly rate: number
  /** Busy time of the server's thread (event loop utilisation) per message, in microseconds. */
  readonly busy: number
}

const measure = async (make: () => Promise<Run>, total: number): Promise<Measure> => {
  const run = await make()
  const elu = performance.eventLoopUtilization()
  const start = performance.now()
  await playRecall(run.url, total)
  await allReceived(run, total + connections)
  const seconds = (performance.now() - start) / 1000
  const { active } = performance.eventLoopUtilization(elu)
  await run.close()
  return { rate: (total + connections) / seconds, busy: active * 1000 / (total + connections) }
}

/** Median and the range of the middle half: robust to the odd round a busy machine spoils. */
const spread = (xs: ReadonlyArray<number>, digits: number) =>
  `${median(xs).toFixed(digits)} (${quantile(xs, 0.25).toFixed(digits)}-${quantile(xs, 0.75).toFixed(digits)})`

const main = async () => {
  const only = process.env.BENCH_ONLY // "bare" or "callstream", to profile one side
  const runBare = only !== "callstream"
  const runOurs = only !== "bare"
  // warm up both paths (JIT) on a smaller load
  if (runBare) await measure(bareServer, 5_000)
  if (runOurs) await measure(callstreamServer, 5_000)
  const bare: Array<Measure> = []
  const ours: Array<Measure> = []
  for (let r = 0; r < rounds; r++) {
    // alternate which server goes first, so a drift in machine load hits both alike
    const order = r % 2 === 0 ? [true, false] : [false, true]
    for (const isBare of order) {
      if (isBare && runBare) bare.push(await measure(bareServer, messagesPerRound))
      if (!isBare && runOurs) ours.push(await measure(callstreamServer, messagesPerRound))
    }
  }
  console.log(
    `server throughput (${messagesPerRound.toLocaleString("en-US")} messages x ${rounds} interleaved rounds over ` +
      `${connections} connections, avg ${Math.round(poolBytes)} bytes; node ${process.version}; ` +
      `bufferutil ${hasBufferutil()}); median (interquartile range)`
  )
  const row = (server: string, xs: ReadonlyArray<Measure>) => ({
    server,
    "msg/s": spread(xs.map((m) => m.rate / 1000), 1).replace(/(\d)( |-|\))/g, "$1k$2"),
    "MB/s": (median(xs.map((m) => m.rate)) * poolBytes / 1e6).toFixed(1),
    "server thread µs/msg": spread(xs.map((m) => m.busy), 2)
  })
  const table = []
  if (bare.length > 0) table.push(row("bare ws + JSON.parse", bare))
  if (ours.length > 0) table.push(row("callstream RecallServer", ours))
  console.table(table)
  if (bare.length > 0 && ours.length > 0) {
    // each round's ratio pairs runs made under the same machine load
    const rateRatios = ours.map((m, i) => m.rate / bare[i]!.rate)
    const costRatios = ours.map((m, i) => bare[i]!.busy / m.busy)
    console.log(`throughput ratio (callstream / bare), per round: ${spread(rateRatios, 2)}x`)
    console.log(`server-thread cost ratio (bare µs / callstream µs), per round: ${spread(costRatios, 2)}x`)
  }
  if (idleConnections > 0 && runOurs) report(await connectionMemory(idleConnections, idleRounds))
}

// -- memory per connection ------------------------------------------------------

const idleConnections = Number(process.env.BENCH_IDLE ?? 2_000)
const idleRounds = Number(process.env.BENCH_IDLE_ROUNDS ?? 3)
const TOKEN = "bench-token"

/** Opens connections, then sends one message on each, then closes them, one step per line on stdin. */
const holderSource = `
const WebSocket = require(process.env.WS_PATH)
const { url, count, message } = JSON.parse(process.env.HOLDER)
const sockets = []
let opened = 0
const openNext = () => {
  if (sockets.length === count) return
  const ws = new WebSocket(url, { perMessageDeflate: false })
  sockets.push(ws)
  ws.on("error", (e) => { console.error(e.message); process.exit(1) })
  ws.on("open", () => { if (++opened === count) console.log("open"); else openNext() })
}
for (let i = 0; i < 32; i++) openNext()
let lines = ""
process.stdin.on("data", (data) => {
  lines += data
  if (lines.endsWith("send\\n")) {
    let sent = 0
    sockets.forEach((ws, i) => ws.send(message.replace("@@BOT@@", "idle-" + i), () => { if (++sent === count) console.log("sent") }))
  }
  if (lines.endsWith("close\\n")) {
    for (const ws of sockets) ws.close(1000)
    process.exit(0)
  }
})
`

/** A process that holds connections to `url`, driven step by step. */
const holdConnections = (url: string, count: number) => {
  const child = spawn(process.execPath, ["-e", holderSource], {
    env: {
      ...process.env,
      WS_PATH: wsPath,
      HOLDER: JSON.stringify({
        url,
        count,
        message: JSON.stringify(Fixtures.participantEvent("participant_events.join", { botId: "@@BOT@@" }))
      })
    },
    stdio: ["pipe", "pipe", "inherit"]
  })
  const next = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const onData = (data: Buffer) => {
        if (!data.toString("utf8").includes(line)) return
        child.stdout!.off("data", onData)
        resolve()
      }
      child.stdout!.on("data", onData)
      child.once("exit", (code) => reject(new Error(`the connection holder exited (${code})`)))
    })
  return {
    opened: next("open"),
    send: () => {
      child.stdin!.write("send\n")
      return next("sent")
    },
    close: () => child.stdin!.write("close\n")
  }
}

/**
 * The server for the memory measure runs in a process of its own (this file with `BENCH_ROLE=server`), so that
 * nothing else this process did grows or shrinks its memory meanwhile. It answers each `measure` line on stdin with
 * one JSON line: its RSS and V8 heap after a full collection, and its connections and sessions.
 */
const serveForMeasures = async () => {
  const scope = Effect.runSync(Scope.make())
  const layer = RecallServer.layer({ host: "127.0.0.1", port: 0, tokens: [Redacted.make(TOKEN)] }).pipe(
    Layer.provide(Logger.minimumLogLevel(LogLevel.None))
  )
  const server = Context.get(await Effect.runPromise(Layer.buildWithScope(layer, scope)), RecallServer.RecallServer)
  Effect.runFork(Stream.runDrain(server.events))
  console.log(JSON.stringify({ url: server.address.url }))
  let pending = ""
  process.stdin.on("data", async (data: Buffer) => {
    pending += data.toString("utf8")
    while (pending.includes("\n")) {
      pending = pending.slice(pending.indexOf("\n") + 1)
      await new Promise((resolve) => setTimeout(resolve, 300))
      collect()
      await new Promise((resolve) => setTimeout(resolve, 300))
      collect()
      const health = await Effect.runPromise(server.health)
      const usage = process.memoryUsage()
      console.log(JSON.stringify({ rss: usage.rss, heap: usage.heapUsed, ...health }))
    }
  })
}

/** What the measured server reports about itself. */
interface Sample {
  readonly rss: number
  readonly heap: number
  readonly connections: number
  readonly sessions: number
  readonly queued: number
}

/** Starts the measured server in its own process; `measure` waits for a sample that satisfies `ready`. */
const startMeasuredServer = async () => {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_ROLE: "server" },
    stdio: ["pipe", "pipe", "inherit"]
  })
  const lines: Array<string> = []
  let waiting: (() => void) | undefined
  let pending = ""
  child.stdout!.on("data", (data: Buffer) => {
    pending += data.toString("utf8")
    const parts = pending.split("\n")
    pending = parts.pop()!
    lines.push(...parts)
    waiting?.()
  })
  const nextLine = async (): Promise<any> => {
    while (lines.length === 0) await new Promise<void>((resolve) => (waiting = resolve))
    return JSON.parse(lines.shift()!)
  }
  const { url } = await nextLine()
  const measure = async (ready: (sample: Sample) => boolean): Promise<Sample> => {
    const deadline = performance.now() + 60_000
    for (;;) {
      child.stdin!.write("measure\n")
      const sample: Sample = await nextLine()
      if (ready(sample)) return sample
      if (performance.now() > deadline) throw new Error("timed out waiting for the server")
    }
  }
  return { url: url as string, measure, stop: () => child.kill("SIGKILL") }
}

interface PerConnection {
  readonly idle: { readonly rss: number; readonly heap: number }
  readonly withSession: { readonly rss: number; readonly heap: number }
}

/**
 * Memory per authenticated connection, idle and then with a session each: per round, a fresh server process, then
 * `count` connections opened, then one message sent on each.
 */
const connectionMemory = async (count: number, rounds: number): Promise<ReadonlyArray<PerConnection>> => {
  const out: Array<PerConnection> = []
  for (let r = 0; r < rounds; r++) {
    const server = await startMeasuredServer()
    try {
      const url = `${server.url}?token=${TOKEN}`
      // the second sample: what starting up left behind is collected and given back by then
      await server.measure((s) => s.connections === 0)
      const before = await server.measure((s) => s.connections === 0)
      const holder = holdConnections(url, count)
      await holder.opened
      const idle = await server.measure((s) => s.connections === count)
      await holder.send()
      const withSession = await server.measure((s) => s.sessions === count && s.queued === 0)
      holder.close()
      const per = (after: { rss: number; heap: number }) => ({
        rss: (after.rss - before.rss) / count,
        heap: (after.heap - before.heap) / count
      })
      out.push({ idle: per(idle), withSession: per(withSession) })
    } finally {
      server.stop()
    }
  }
  return out
}

const report = (rounds: ReadonlyArray<PerConnection>) => {
  const kib = (xs: ReadonlyArray<number>) => `${(median(xs) / 1024).toFixed(1)} KiB`
  console.log(
    `memory per authenticated connection (${idleConnections.toLocaleString("en-US")} connections held by another ` +
      `process, median of ${idleRounds} rounds, each with a fresh server process; a full collection before each sample)`
  )
  console.table([
    {
      connection: "idle (nothing sent)",
      RSS: kib(rounds.map((r) => r.idle.rss)),
      "V8 heap": kib(rounds.map((r) => r.idle.heap))
    },
    {
      connection: "with its session (one message sent, read)",
      RSS: kib(rounds.map((r) => r.withSession.rss)),
      "V8 heap": kib(rounds.map((r) => r.withSession.heap))
    }
  ])
}

const hasBufferutil = (): string => {
  try {
    createRequire(wsPath).resolve("bufferutil")
    return "yes"
  } catch {
    return "no"
  }
}
const entry = process.env.BENCH_ROLE === "server" ? serveForMeasures : main

entry().catch((error) => {
  console.error(error)
  process.exit(1)
})
