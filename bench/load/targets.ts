/**
 * The servers under test, each started as child processes of the harness and stopped with a SIGTERM:
 *
 * - (a) `serve`: the real CLI, `callstream serve`, recording into a temporary folder; its counts are read from
 *   every `session.json` after a clean exit.
 * - (b) `library`: `RecallServer` with a consumer that reads every event (`library-server.ts`).
 * - (c) `bare`: a plain `ws` server, `JSON.parse` and base64 decode of audio (`bare-server.ts`).
 * - (d) `bare-recorder`: the same, also writing a tape and PCM per session, batched every 250 ms.
 *
 * A target is any number of processes: the harness adds up their CPU and RSS and spreads bots over their URLs.
 * That is the hook for a scale-out row (receivers publishing to Redis and a worker recording): start
 * `redis-server`, the receivers (`callstream serve --redis URL`) and the worker (`callstream worker --redis URL
 * --out DIR`), return every pid and the receivers' URLs, and read counts from the worker's folder as for `serve`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { repo } from "./code.js"
import { RESULT_PREFIX, type ServerCounts } from "./protocol.js"
import { type SessionCounts, sessionCounts } from "./recordings.js"

const here = Path.dirname(fileURLToPath(import.meta.url))

/** What a target gets to start with. */
export interface StartContext {
  /** A fresh temporary folder for this run: output, logs. */
  readonly dir: string
  /** The query token the bots present; targets that authenticate require it. */
  readonly token: string
  /** Node flags for the server processes (a CPU profile, say). */
  readonly nodeArgs: ReadonlyArray<string>
  /** The repository root whose packages `serve` and `RecallServer` run from (see `code.ts`). */
  readonly code: string
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

/** A child process whose output goes to a log file, and whose stdout is watched for a URL and a result line. */
class Child {
  readonly process: ChildProcess
  readonly url: Promise<string>
  readonly exited: Promise<string>
  result: ServerCounts | null = null
  private tail: Array<string> = []

  constructor(
    args: ReadonlyArray<string>,
    context: StartContext,
    /** Where it runs: tsx resolves itself and reads `tsconfig.json` (the packages' paths) from there. */
    cwd: string,
    env: Record<string, string> = {}
  ) {
    const logFile = Path.join(context.dir, "server.log")
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
      const url = /ws:\/\/127\.0\.0\.1:\d+\/[^\s?"]*/.exec(line)
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
        rejectUrl(new Error(`${args.join(" ")} ended before listening (${status}):\n${this.tail.join("\n")}`))
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
      setTimeout(() => reject(new Error(`no websocket URL printed within ${timeoutMs} ms`)), timeoutMs).unref()
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

const tsx = ["--import", "tsx"]

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
    readonly counted: (child: Child) => Promise<Pick<Stopped, "counts" | "sessions">>
  }
): Promise<Running> => {
  const child = new Child(args, context, options.cwd, options.env)
  const url = await child.listening(READY_TIMEOUT_MS)
  return {
    pids: [child.process.pid!],
    urls: [options.authenticated ? `${url}?token=${encodeURIComponent(context.token)}` : url],
    recording: options.recording,
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
    const flags = ["--host", "127.0.0.1", "--port", "0", "--token", context.token, "--out", out]
    return oneProcess(context, [Path.join(context.code, "packages/cli/bin/callstream.js"), "serve", ...flags], {
      cwd: context.code,
      authenticated: true,
      recording: out,
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
    oneProcess(context, [...tsx, Path.join(here, "library-server.ts")], {
      cwd: context.code,
      env: { LOAD_TOKEN: context.token, LOAD_SERVER_MODULE: Path.join(context.code, "packages/server/src/index.ts") },
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
    return oneProcess(context, [...tsx, Path.join(here, "bare-server.ts"), ...(record ? ["--record", out] : [])], {
      cwd: repo,
      authenticated: false,
      recording: record ? out : null,
      counted: ownCounts
    })
  }
})

/** Every target, in the order rows are reported. */
export const targets: ReadonlyArray<Target> = [serve, library, bare(false), bare(true)]

/** The baseline the ratios divide by. */
export const BASELINE = "bare"
