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
 * `BENCH_ONLY=bare|callstream` runs one side (for profiling).
 */
import { Fixtures } from "@callstream/core"
import { RecallServer } from "@callstream/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createRequire } from "node:module"
import type * as Net from "node:net"
import { Worker } from "node:worker_threads"
import { WebSocketServer } from "ws"
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
  Effect.runFork(
    server.events.pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.sync(() => {
          for (const item of chunk) if (item._tag === "Message") count++
        })
      )
    )
  )
  return {
    url: server.address.url,
    received: () => count,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const waitFor = (f: () => boolean) =>
  new Promise<void>((resolve) => {
    const tick = () => (f() ? resolve() : setTimeout(tick, 2))
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
  await waitFor(() => run.received() >= total + connections)
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
}

const hasBufferutil = (): string => {
  try {
    createRequire(wsPath).resolve("bufferutil")
    return "yes"
  } catch {
    return "no"
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
