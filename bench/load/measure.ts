/**
 * One measurement: a target at one load level. Starts the server, forks the generator, samples `/proc` every
 * second and the audio on disk every few seconds while the bots send, stops the server with a SIGTERM and reads
 * what it counted.
 */
import { type ChildProcess, fork } from "node:child_process"
import { randomBytes } from "node:crypto"
import { rmSync } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { repo } from "./code.js"
import type { Programs } from "./compile.js"
import type { Options } from "./options.js"
import { ProcSampler } from "./proc.js"
import type { FromGenerator, Plan, Result, Snapshot } from "./protocol.js"
import { AudioOnDisk } from "./recordings.js"
import { max, median, quantile, type Spread, spread } from "./stats.js"
import type { Running, Stopped, Target } from "./targets.js"
import { ThreadsSampler } from "./threads.js"

const here = Path.dirname(fileURLToPath(import.meta.url))

const PROC_INTERVAL_MS = 1000
const LAG_INTERVAL_MS = 2000
const CLOSE_TIMEOUT_MS = 30_000
/** A server gets this long to exit after the SIGTERM, or as long as the bots sent if that is longer. */
const STOP_TIMEOUT_MS = 120_000

/** One point of the series over time (the soak's table). */
export interface Point {
  /** Seconds since the plan started. */
  readonly at: number
  readonly serverCpu: number
  readonly serverRss: number
  readonly generatorCpu: number
  readonly others: number
  /** Median over bots of the WAV lag sampled at about this time, seconds. */
  readonly lag: number | null
  /** How busy the server's busiest recorder thread was in about this second (0 to 1), when it says. */
  readonly recorderBusy: number | null
}

export interface Measurement {
  readonly target: Target
  readonly bots: number
  /** Which of the `--rounds` this run was (from 1). */
  readonly round: number
  readonly accepted: number
  /** Failed handshakes by reason ("timeout", "http 503", "ECONNRESET"...). */
  readonly failures: Readonly<Record<string, number>>
  /** Connections the server closed before the bot left, by close code. */
  readonly dropped: Readonly<Record<string, number>>
  /** Connections the bots had to cut because the close handshake did not finish in time. */
  readonly cut: number
  /** Messages written to the sockets. */
  readonly sent: number
  /** Messages not sent because the server had stopped reading that connection. */
  readonly skipped: number
  /** Messages whose write failed because the connection was gone. */
  readonly failedWrites: number
  /**
   * Messages the server received or recorded; null when it could not say. For a recorder that had to be killed,
   * what its files held afterwards (see `stopped.clean`).
   */
  readonly received: number | null
  /**
   * Recording targets: sessions found, how many of the bots' sessions miss messages, and how many messages the
   * server shed as media under its limits (the `Dropped` records each `session.json` counts).
   */
  readonly sessions: { readonly found: number; readonly short: number; readonly droppedMedia: number } | null
  readonly decodeFailures: number
  readonly cpu: Spread
  readonly rss: Spread
  /** The largest RSS from start to exit, catching up after the bots left included. */
  readonly rssPeak: number
  /**
   * How busy the server's main thread and its busiest recorder thread were, median over the steady phase (shares of
   * a second, 0 to 1), for a server that shows it on `/metrics` (`callstream serve`); null otherwise.
   */
  readonly threads: { readonly main: number; readonly recorder: number | null } | null
  /** Time from starting a connection to its open, over the bots accepted, ms. */
  readonly handshake: { readonly p50: number; readonly p99: number }
  /** Round trips of the steady phase; pings sent and answered over the whole run. */
  readonly ping: { readonly p50: number; readonly p99: number; readonly sent: number; readonly answered: number }
  /** Seconds the audio on disk is behind the audio sent, over bots and samples of the steady phase. */
  readonly lag: Spread | null
  readonly generatorCpu: Spread
  /** The harness's own CPU (sampling /proc and the audio on disk), median, % of one core. */
  readonly harnessCpu: number
  readonly lateness: Result["lateness"]
  /** Median CPU of every other process on the machine during the steady phase, % of one core. */
  readonly others: number
  /** Kernel time of creating a file in the run's folder, just before the run, in ms (see `fileCreateMs`). */
  readonly fileCreateMs: number
  readonly steadySeconds: number
  readonly stopped: Stopped
  readonly series: ReadonlyArray<Point>
}

/** The generator process, with its IPC. Every promise fails if the process exits before it answers. */
class Generator {
  private readonly waiting: Array<(snapshot: Snapshot) => void> = []
  private readonly gone: Promise<never>
  readonly ready: Promise<void>
  readonly result: Promise<Result>

  private constructor(readonly child: ChildProcess) {
    this.gone = new Promise((_, reject) =>
      child.once("exit", (code, signal) => reject(new Error(`the load generator exited (${signal ?? code})`)))
    )
    let onReady!: () => void
    let onResult!: (result: Result) => void
    this.ready = Promise.race([new Promise<void>((resolve) => (onReady = resolve)), this.gone])
    this.result = Promise.race([new Promise<Result>((resolve) => (onResult = resolve)), this.gone])
    // a failure is reported by whoever waits; none of these may end the harness unhandled
    for (const promise of [this.gone, this.ready, this.result]) promise.catch(() => {})
    child.on("message", (message: FromGenerator) => {
      if (message.type === "ready") onReady()
      else if (message.type === "snapshot") this.waiting.shift()?.(message)
      else onResult(message)
    })
  }

  static start(): Generator {
    return new Generator(
      fork(Path.join(here, "generator.ts"), [], {
        cwd: repo,
        env: { ...process.env, TSX_TSCONFIG_PATH: Path.join(repo, "tsconfig.json") },
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", 1, 2, "ipc"]
      })
    )
  }

  play(plan: Plan) {
    this.child.send(plan)
  }

  snapshot(): Promise<Snapshot> {
    if (!this.child.connected) return this.gone
    return Promise.race([
      new Promise<Snapshot>((resolve) => {
        this.waiting.push(resolve)
        this.child.send({ type: "snapshot" })
      }),
      this.gone
    ])
  }

  /** Waits for the generator to exit by itself after its report, then kills it. */
  async exit(timeoutMs: number): Promise<void> {
    const child = this.child
    if (child.exitCode !== null || child.signalCode !== null) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        resolve()
      }, timeoutMs)
      child.once("exit", () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  get pid(): number {
    return this.child.pid!
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const tally = (values: ReadonlyArray<string>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1
  return counts
}

/** Lags of every bot: audio sent (the mean of two snapshots around the disk scan) minus audio on disk. */
const sampleLag = async (generator: Generator, disk: AudioOnDisk): Promise<ReadonlyArray<number>> => {
  const before = await generator.snapshot()
  const onDisk = await disk.seconds(new Set(Object.keys(before.audioSeconds)))
  const after = await generator.snapshot()
  return Object.keys(before.audioSeconds).map((bot) => {
    const sent = (before.audioSeconds[bot]! + (after.audioSeconds[bot] ?? before.audioSeconds[bot]!)) / 2
    return Math.max(0, sent - (onDisk.get(bot) ?? 0))
  })
}

const within = <S extends { readonly at: number }>(samples: ReadonlyArray<S>, from: number, to: number) =>
  samples.filter((s) => s.at > from && s.at <= to)

/** Kills every child process still running: the harness calls it when it is itself interrupted. */
const live = new Set<() => void>()
export const killAll = (): void => live.forEach((kill) => kill())

/**
 * Where the runs' folders go: `--dir`, or a folder in the checkout, on the file system a user's recordings folder
 * would be on, rather than the system's temporary folder, which other programs (and test suites) fill. How fast the
 * file system creates files is measured before each run either way (see `fileCreateMs`): a recorder creates five
 * files as each meeting starts, and on the machine these benchmarks were first run on that cost moved between 0.05
 * and 0.9 ms of kernel time a file within the hour.
 */
const runsFolder = async (options: Options): Promise<string> => {
  const dir = options.dir ?? Path.join(repo, "node_modules", ".callstream-load-runs")
  await Fs.mkdir(dir, { recursive: true })
  return dir
}

/**
 * The kernel time of creating a file in `dir`, in ms: the mean over `count` files (the process's system time over
 * all of them: one file is below the clock's resolution). How fast a file system takes new files changes a
 * recorder's cost at the start of its meetings; measured before each run, reported with the noise.
 */
const fileCreateMs = async (dir: string, count = 500): Promise<number> => {
  const probe = await Fs.mkdtemp(Path.join(dir, "probe-"))
  try {
    const before = process.cpuUsage()
    for (let i = 0; i < count; i++) await Fs.writeFile(Path.join(probe, `file-${i}`), "x")
    return process.cpuUsage(before).system / 1000 / count
  } finally {
    await Fs.rm(probe, { recursive: true, force: true })
  }
}

/** Runs `target` under `bots` bots, as run `round` of the level. */
export const measure = async (
  target: Target,
  bots: number,
  round: number,
  options: Options,
  programs: Programs
): Promise<Measurement> => {
  const dir = await Fs.mkdtemp(Path.join(await runsFolder(options), `callstream-load-${target.id}-${bots}-`))
  const createMs = await fileCreateMs(dir)
  let running: Running | undefined
  let generator: Generator | undefined
  let sampler: ProcSampler | undefined
  let threads: ThreadsSampler | undefined
  try {
    running = await target.start({
      dir,
      token: randomBytes(18).toString("base64url"),
      programs,
      serveArgs: options.serveArgs,
      joinWorkerAfterSeconds: options.joinWorkerAfterSeconds,
      nodeArgs: [
        ...options.nodeArgs,
        // one folder per server, Node's own file names: every thread (the main one, and tsx's loader under --tsx)
        // writes its own
        ...(options.profile === null
          ? []
          : ["--cpu-prof", `--cpu-prof-dir=${Path.resolve(options.profile, `${target.id}-${bots}`)}`])
      ]
    })
    live.add(running.kill)
    generator = Generator.start()
    const child = generator.child
    const killGenerator = () => child.kill("SIGKILL")
    live.add(killGenerator)
    if (!options.keep) live.add(() => rmSync(dir, { recursive: true, force: true }))
    await generator.ready
    sampler = new ProcSampler(
      { server: running.pids, generator: [generator.pid], harness: [process.pid] },
      PROC_INTERVAL_MS
    )
    if (running.metrics !== null) threads = new ThreadsSampler(running.metrics, PROC_INTERVAL_MS)
    const rampMs = options.rampSeconds * 1000
    const sendMs = rampMs + options.durationSeconds * 1000
    const startedAt = Date.now()
    generator.play({
      type: "plan",
      urls: running.urls,
      bots,
      cameras: options.cameras,
      rampMs,
      sendMs,
      handshakeTimeoutMs: options.handshakeTimeoutSeconds * 1000,
      pingSample: options.pingSample,
      pingIntervalMs: 1000,
      maxBufferedBytes: options.maxBufferedMb * 1024 * 1024,
      closeTimeoutMs: CLOSE_TIMEOUT_MS
    })
    const steadyFrom = startedAt + rampMs + Math.min(3000, (options.durationSeconds * 1000) / 4)

    // WAV lag, sampled while the bots send
    const lags: Array<readonly [number, ReadonlyArray<number>]> = []
    let finished = false
    const result = generator.result.finally(() => (finished = true))
    if (running.recording !== null) {
      const disk = new AudioOnDisk(running.recording)
      while (!finished && Date.now() < startedAt + sendMs) {
        await Promise.race([sleep(LAG_INTERVAL_MS), result])
        if (!finished && Date.now() >= startedAt + rampMs && Date.now() < startedAt + sendMs) {
          lags.push([Date.now(), await sampleLag(generator, disk)])
        }
      }
    }
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("the load generator did not report in time")),
        sendMs + CLOSE_TIMEOUT_MS + 60_000
      )
    })
    const played = await Promise.race([result, deadline]).finally(() => clearTimeout(timer))
    const stopped = await running.stop(Math.max(STOP_TIMEOUT_MS, sendMs))
    const samples = sampler.stop()
    const threadSamples = threads?.stop() ?? []

    const steady = within(samples, steadyFrom, played.sendEndedAt)
    const steadyThreads = within(threadSamples, steadyFrom, played.sendEndedAt)
    const recorderBusy = steadyThreads.flatMap((t) => (t.recorder === null ? [] : [t.recorder]))
    const opened = played.bots.filter((b) => b.openedAt !== null)
    const sent = played.bots.reduce((n, b) => n + b.written, 0)
    let received: number | null = null
    let sessions: Measurement["sessions"] = null
    let decodeFailures = 0
    if (stopped.sessions !== null) {
      const recorded = new Map<string, number>()
      for (const s of stopped.sessions) {
        if (s.botId !== null) recorded.set(s.botId, (recorded.get(s.botId) ?? 0) + s.messages)
        decodeFailures += s.decodeFailures
      }
      received = stopped.sessions.reduce((n, s) => n + s.messages, 0)
      sessions = {
        found: stopped.sessions.length,
        short: opened.filter((b) => (recorded.get(b.botId) ?? 0) < b.written).length,
        droppedMedia: stopped.sessions.reduce((n, s) => n + s.droppedMedia, 0)
      }
    } else if (stopped.counts !== null) {
      received = stopped.counts.messages
      decodeFailures = stopped.counts.decodeFailures ?? 0
    }
    const steadyPings = played.pings.filter(([at]) => at > steadyFrom && at <= played.sendEndedAt).map(([, ms]) => ms)
    const steadyLags = lags.filter(([at]) => at > steadyFrom).flatMap(([, values]) => values)
    const bucketOf = (at: number) => Math.round((at - startedAt) / 1000)
    return {
      target,
      bots,
      round,
      accepted: opened.length,
      failures: tally(played.bots.flatMap((b) => (b.failure === null ? [] : [b.failure]))),
      dropped: tally(played.bots.flatMap((b) => (b.droppedWith === null ? [] : [String(b.droppedWith)]))),
      cut: opened.filter((b) => !b.closedCleanly && b.droppedWith === null).length,
      sent,
      skipped: played.bots.reduce((n, b) => n + b.skipped, 0),
      failedWrites: played.bots.reduce((n, b) => n + b.failed, 0),
      received,
      sessions,
      decodeFailures,
      cpu: spread(steady.map((s) => s.cpu.server!)),
      rss: spread(steady.map((s) => s.rss.server!)),
      rssPeak: max(samples.map((s) => s.rss.server!)),
      threads: steadyThreads.length === 0 ? null : {
        main: median(steadyThreads.map((t) => t.main)),
        recorder: recorderBusy.length === 0 ? null : median(recorderBusy)
      },
      handshake: {
        p50: quantile(opened.map((b) => b.handshakeMs!), 0.5),
        p99: quantile(opened.map((b) => b.handshakeMs!), 0.99)
      },
      ping: {
        p50: quantile(steadyPings, 0.5),
        p99: quantile(steadyPings, 0.99),
        sent: played.pings.length + played.pingsUnanswered,
        answered: played.pings.length
      },
      lag: running.recording === null ? null : spread(steadyLags),
      generatorCpu: spread(steady.map((s) => s.cpu.generator!)),
      harnessCpu: median(steady.map((s) => s.cpu.harness!)),
      lateness: played.lateness,
      others: median(steady.map((s) => s.others)),
      fileCreateMs: createMs,
      steadySeconds: (played.sendEndedAt - steadyFrom) / 1000,
      stopped,
      series: samples.filter((s) => s.at <= played.sendEndedAt).map((s) => {
        const near = lags.filter(([at]) => Math.abs(bucketOf(at) - bucketOf(s.at)) <= 1)
        const busy = threadSamples.find((t) => bucketOf(t.at) === bucketOf(s.at))?.recorder ?? null
        return {
          at: (s.at - startedAt) / 1000,
          serverCpu: s.cpu.server!,
          serverRss: s.rss.server!,
          generatorCpu: s.cpu.generator!,
          others: s.others,
          lag: near.length === 0 ? null : median(near[0]![1]),
          recorderBusy: busy
        }
      })
    }
  } finally {
    sampler?.stop()
    threads?.stop()
    await generator?.exit(5000)
    running?.kill()
    live.clear()
    if (!options.keep) await Fs.rm(dir, { recursive: true, force: true })
    else console.error(`kept ${dir}`)
  }
}
