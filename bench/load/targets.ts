/**
 * The servers under test, each started as child processes of the harness and stopped with a SIGTERM:
 *
 * - (a) `serve`: the real CLI, `callstream serve`, recording into a temporary folder; its counts are read from
 *   every `session.json` after a clean exit.
 * - (b) `library`: `RecallServer` with a consumer that reads every event (`library-server.ts`).
 * - (c) `bare`: a plain `ws` server, `JSON.parse` and base64 decode of audio (`bare-server.ts`).
 * - (d) `bare-recorder`: the same, also writing a tape and PCM per session, batched every 250 ms.
 * - (e) `scale-out`: the CLI scaled out, recording: a `redis-server` of its own (a free port, a temporary folder, no
 *   persistence; started as the Redis tests start theirs), two receivers (`callstream serve --redis URL`) that the bots are spread over, and one worker
 *   (`callstream worker --redis URL --out DIR`). At the stop the receivers go first (each publishes what it holds),
 *   then the worker once Redis is empty (everything recorded and acknowledged), then Redis; counts are read from
 *   every `session.json` as for `serve`, so its loss compares with (a)'s.
 *
 * A target is any number of processes: the harness adds up their CPU and RSS and spreads bots over their URLs.
 */
import { Redis } from "ioredis"
import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { RedisServer } from "../../packages/redis/test/redisServer.js"
import { repo } from "./code.js"
import type { Programs } from "./compile.js"
import { RESULT_PREFIX, type ServerCounts } from "./protocol.js"
import { type SessionCounts, sessionCounts } from "./recordings.js"

/** What a target gets to start with. */
export interface StartContext {
  /** A fresh temporary folder for this run: output, logs. */
  readonly dir: string
  /** The query token the bots present; targets that authenticate require it. */
  readonly token: string
  /** Node flags for the server processes (a CPU profile, say). */
  readonly nodeArgs: ReadonlyArray<string>
  /** Extra flags for `callstream serve`. */
  readonly serveArgs: ReadonlyArray<string>
  /** What runs: `serve`, `RecallServer` and the bare server, compiled or from sources (see `compile.ts`). */
  readonly programs: Programs
  /** Scale-out: seconds after the deployment is ready that a second worker starts; null: none. */
  readonly joinWorkerAfterSeconds: number | null
}

/** How a target stopped, and what it counted. */
export interface Stopped {
  /** Whether every process exited with code 0 after the SIGTERM, before the deadline. */
  readonly clean: boolean
  /** Exit codes or signals, for the report when not clean. */
  readonly exits: ReadonlyArray<string>
  /** From the SIGTERM to the last exit, ms. */
  readonly stopMs: number
  /** What the server counted (bare servers, the library consumer). */
  readonly counts: ServerCounts | null
  /** What every session.json says (recording targets). */
  readonly sessions: ReadonlyArray<SessionCounts> | null
}

/** A running target. */
export interface Running {
  readonly pids: ReadonlyArray<number>
  /** Websocket URLs with the token, if any. */
  readonly urls: ReadonlyArray<string>
  /** The folder the target records into, when it records audio (for the WAV lag). */
  readonly recording: string | null
  /** The server's Prometheus endpoint, when it shows how busy its threads are (`callstream serve`). */
  readonly metrics: string | null
  /** SIGTERM to every process, wait for them to exit (killed after `timeoutMs`), then collect counts. */
  readonly stop: (timeoutMs: number) => Promise<Stopped>
  /** SIGKILL whatever still runs (after a failure). */
  readonly kill: () => void
}

/** A server under test. */
export interface Target {
  readonly id: string
  /** The letter that names its row in the report. */
  readonly letter: string
  readonly label: string
  readonly start: (context: StartContext) => Promise<Running>
}

const WS_URL = /ws:\/\/127\.0\.0\.1:\d+\/[^\s?"]*/

/** How a child process runs, besides its arguments. */
interface ChildOptions {
  /** Where it runs: tsx resolves itself and reads `tsconfig.json` (the packages' paths) from there. */
  readonly cwd: string
  readonly env?: Record<string, string> | undefined
  /** Its log file in the run's folder. Default `server.log`. */
  readonly log?: string | undefined
  /** What it prints once it is ready; `url` gives the text matched. Default a ws:// URL. */
  readonly ready?: RegExp | undefined
}

/** A child process whose output goes to a log file, and whose stdout is watched for a URL and a result line. */
class Child {
  readonly process: ChildProcess
  readonly url: Promise<string>
  readonly exited: Promise<string>
  result: ServerCounts | null = null
  private tail: Array<string> = []
  private readonly ready: RegExp

  constructor(args: ReadonlyArray<string>, context: StartContext, options: ChildOptions) {
    const { cwd, env = {} } = options
    const ready = this.ready = options.ready ?? WS_URL
    const logFile = Path.join(context.dir, options.log ?? "server.log")
    const log = createWriteStream(logFile)
    const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CALLSTREAM_")))
    this.process = spawn(process.execPath, [...context.nodeArgs, ...args], {
      cwd,
      env: { ...cleanEnv, TSX_TSCONFIG_PATH: Path.join(cwd, "tsconfig.json"), ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let resolveUrl: (url: string) => void
    let rejectUrl: (error: Error) => void
    this.url = new Promise((resolve, reject) => {
      resolveUrl = resolve
      rejectUrl = reject
    })
    // no unhandled rejection when nobody waits for the URL any more
    this.url.catch(() => {})
    let pending = ""
    const onLine = (line: string) => {
      this.tail = [...this.tail.slice(-19), line]
      if (line.startsWith(RESULT_PREFIX)) this.result = JSON.parse(line.slice(RESULT_PREFIX.length))
      const url = ready.exec(line)
      if (url !== null) resolveUrl(url[0])
    }
    this.process.stdout!.on("data", (data: Buffer) => {
      log.write(data)
      pending += data.toString("utf8")
      const lines = pending.split("\n")
      pending = lines.pop()!
      lines.forEach(onLine)
    })
    this.process.stderr!.on("data", (data: Buffer) => log.write(data))
    this.exited = new Promise((resolve) => {
      this.process.once("exit", (code, signal) => {
        if (pending !== "") onLine(pending)
        log.end()
        const status = signal === null ? `exit ${code}` : `signal ${signal}`
        rejectUrl(new Error(`${args.join(" ")} ended before it was ready (${status}):\n${this.tail.join("\n")}`))
        resolve(status)
      })
    })
  }

  /** SIGKILL, unless it has exited already. */
  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill("SIGKILL")
  }

  async listening(timeoutMs: number): Promise<string> {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`not ready (${this.ready}) within ${timeoutMs} ms`)), timeoutMs).unref()
    )
    try {
      return await Promise.race([this.url, timeout])
    } catch (error) {
      this.kill()
      throw error
    }
  }
}

const READY_TIMEOUT_MS = 60_000

const stopAll = async (
  children: ReadonlyArray<Child>,
  timeoutMs: number,
  collect: () => Promise<Pick<Stopped, "counts" | "sessions">>
): Promise<Stopped> => {
  const started = Date.now()
  for (const child of children) child.process.kill("SIGTERM")
  const killer = setTimeout(() => children.forEach((child) => child.process.kill("SIGKILL")), timeoutMs)
  const exits = await Promise.all(children.map((child) => child.exited))
  clearTimeout(killer)
  const stopMs = Date.now() - started
  return { clean: exits.every((e) => e === "exit 0"), exits, stopMs, ...(await collect()) }
}

/**
 * A target that is one process: it prints its URL when it listens; bots present the token when `authenticated`;
 * `counted` reads its counts once it exited.
 */
const oneProcess = async (
  context: StartContext,
  args: ReadonlyArray<string>,
  options: {
    readonly cwd: string
    readonly env?: Record<string, string>
    readonly authenticated: boolean
    readonly recording: string | null
    /** Its `/metrics` is next to its websocket path. */
    readonly metrics?: boolean
    readonly counted: (child: Child) => Promise<Pick<Stopped, "counts" | "sessions">>
  }
): Promise<Running> => {
  const child = new Child(args, context, { cwd: options.cwd, env: options.env })
  const url = await child.listening(READY_TIMEOUT_MS)
  return {
    pids: [child.process.pid!],
    urls: [options.authenticated ? `${url}?token=${encodeURIComponent(context.token)}` : url],
    recording: options.recording,
    metrics: options.metrics === true ? new URL("/metrics", url.replace(/^ws/, "http")).toString() : null,
    stop: (timeoutMs) => stopAll([child], timeoutMs, () => options.counted(child)),
    kill: () => child.kill()
  }
}

const ownCounts = async (child: Child) => ({ counts: child.result, sessions: null })

/** (a) `callstream serve`, recording. */
const serve: Target = {
  id: "serve",
  letter: "a",
  label: "`callstream serve` (recording)",
  start: (context) => {
    const out = Path.join(context.dir, "recordings")
    const flags = ["--host", "127.0.0.1", "--port", "0", "--token", context.token, "--out", out, ...context.serveArgs]
    return oneProcess(context, [...context.programs.cli, "serve", ...flags], {
      cwd: context.programs.root,
      authenticated: true,
      recording: out,
      metrics: true,
      counted: async () => ({ counts: null, sessions: await sessionCounts(out) })
    })
  }
}

/** (b) the library path. */
const library: Target = {
  id: "library",
  letter: "b",
  label: "`RecallServer` + consumer",
  start: (context) =>
    oneProcess(context, context.programs.libraryServer, {
      cwd: context.programs.root,
      env: { LOAD_TOKEN: context.token, LOAD_SERVER_MODULE: context.programs.serverModule },
      authenticated: true,
      recording: null,
      counted: ownCounts
    })
}

/** (c) and (d): the bare server, recording or not. */
const bare = (record: boolean): Target => ({
  id: record ? "bare-recorder" : "bare",
  letter: record ? "d" : "c",
  label: record ? "bare recorder (tape + PCM, 250 ms batches)" : "bare `ws` + `JSON.parse` + base64",
  start: (context) => {
    const out = Path.join(context.dir, "recordings")
    return oneProcess(context, [...context.programs.bareServer, ...(record ? ["--record", out] : [])], {
      cwd: repo,
      authenticated: false,
      recording: record ? out : null,
      counted: ownCounts
    })
  }
})

const SCALE_OUT_RECEIVERS = 2
const SCALE_OUT_PARTITIONS = 16

/** Entries left in the log's partitions (0 once the worker recorded and acknowledged everything), null if unknown. */
const entriesLeft = async (url: string): Promise<number | null> => {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  redis.on("error", () => {})
  try {
    await redis.connect()
    const pipeline = redis.pipeline()
    for (let p = 0; p < SCALE_OUT_PARTITIONS; p++) pipeline.xlen(`callstream:partition:${p}`)
    const replies = (await pipeline.exec()) ?? []
    return replies.reduce((n, [error, length]) => (error === null ? n + Number(length) : n), 0)
  } catch {
    return null
  } finally {
    redis.disconnect()
  }
}

/** What the first worker's log says of its handovers to a worker that joined: how many, over how long. */
const handovers = async (log: string): Promise<string> => {
  const text = await Fs.readFile(log, "utf8").catch(() => "")
  const at = (pattern: RegExp) =>
    text.split("\n").filter((line) => pattern.test(line)).map((line) =>
      Date.parse(/timestamp=(\S+)/.exec(line)?.[1] ?? /"timestamp":"([^"]+)"/.exec(line)?.[1] ?? "")
    )
  const started = at(/Handing partition \d+ over/)
  const done = at(/Handed partition \d+ over/)
  if (done.length === 0) return "the first worker handed no partition over"
  const seconds = (Math.max(...done) - Math.min(...started)) / 1000
  return `the first worker handed ${done.length} partitions over to the one that joined, in ${seconds.toFixed(1)} s`
}

/** (e) receivers publishing to Redis and a worker recording. */
const scaleOut: Target = {
  id: "scale-out",
  letter: "e",
  label: `${SCALE_OUT_RECEIVERS} × \`serve --redis\` + \`worker\` + \`redis-server\` (recording)`,
  start: async (context) => {
    const out = Path.join(context.dir, "recordings")
    const redis = await RedisServer.start()
    const url = redis.url
    const cli = context.programs.cli
    const children: Array<Child> = []
    const kill = () => {
      children.forEach((child) => child.kill())
      void redis.stop()
    }
    try {
      const redisFlags = ["--redis", url, "--partitions", String(SCALE_OUT_PARTITIONS)]
      const receivers = Array.from({ length: SCALE_OUT_RECEIVERS }, (_, i) =>
        new Child(
          [...cli, "serve", "--host", "127.0.0.1", "--port", "0", "--token", context.token, ...redisFlags],
          context,
          { cwd: context.programs.root, log: `receiver-${i + 1}.log` }
        ))
      const worker = new Child([...cli, "worker", "--out", out, ...redisFlags], context, {
        cwd: context.programs.root,
        log: "worker.log",
        // the worker says so on a line of its own, in either console format
        ready: /callstream worker \S+ is recording/
      })
      children.push(...receivers, worker)
      const urls = await Promise.all(receivers.map((receiver) => receiver.listening(READY_TIMEOUT_MS)))
      await worker.listening(READY_TIMEOUT_MS)
      // the processes whose CPU and RSS count: the sampler reads this list each time, so a worker that joins
      // counts from then on
      const pids = [redis.pid!, ...children.map((child) => child.process.pid!)]
      const workers = [worker]
      const joining = context.joinWorkerAfterSeconds === null ? undefined : setTimeout(() => {
        const joined = new Child([...cli, "worker", "--out", out, ...redisFlags], context, {
          cwd: context.programs.root,
          log: "worker-2.log",
          ready: /callstream worker \S+ is recording/
        })
        children.push(joined)
        workers.push(joined)
        pids.push(joined.process.pid!)
      }, context.joinWorkerAfterSeconds * 1000)
      return {
        pids,
        urls: urls.map((u) => `${u}?token=${encodeURIComponent(context.token)}`),
        recording: out,
        metrics: null,
        stop: async (timeoutMs) => {
          const started = Date.now()
          const deadline = started + timeoutMs
          clearTimeout(joining)
          // the receivers first: each closes its connections and publishes what it still holds
          const first = await stopAll(receivers, timeoutMs, async () => ({ counts: null, sessions: null }))
          // then the worker, once it has recorded (and acknowledged) everything in the log
          while (Date.now() < deadline && (await entriesLeft(url)) !== 0) {
            await new Promise((resolve) => setTimeout(resolve, 200))
          }
          const recorded = await stopAll(workers, Math.max(1000, deadline - Date.now()), async () => ({
            counts: null,
            sessions: await sessionCounts(out)
          }))
          if (workers.length > 1) console.log(`  ${await handovers(Path.join(context.dir, "worker.log"))}`)
          // Redis last: the worker acknowledges its last flush and hands its partitions back on its way out
          await redis.stop()
          return {
            ...recorded,
            clean: first.clean && recorded.clean,
            exits: [...first.exits, ...recorded.exits],
            stopMs: Date.now() - started
          }
        },
        kill
      }
    } catch (error) {
      kill()
      throw error
    }
  }
}

/** Every target, in the order rows are reported. */
export const targets: ReadonlyArray<Target> = [serve, library, bare(false), bare(true), scaleOut]

/** The baseline the ratios divide by. */
export const BASELINE = "bare"
