/**
 * The load harness's command line.
 */
import { targets } from "./targets.js"

export interface Options {
  /** Bots per load level. */
  readonly levels: ReadonlyArray<number>
  /** Seconds every bot sends after the ramp, per level and target. */
  readonly durationSeconds: number
  /** Seconds over which connections open. */
  readonly rampSeconds: number
  readonly targets: ReadonlyArray<string>
  /** Runs of every level and target, interleaved (see {@link usage}). */
  readonly rounds: number
  readonly soak: boolean
  /** Soak only: seconds per row of the table over time. */
  readonly sampleSeconds: number
  readonly handshakeTimeoutSeconds: number
  readonly pingSample: number
  /** Per connection, MB of unsent data before the generator skips messages. */
  readonly maxBufferedMb: number
  /** Where the Markdown section goes; null prints only. */
  readonly write: string | null
  readonly label: string
  /** A sentence about the machine's state, added to the noise note. */
  readonly note: string | null
  /** A git revision whose packages `serve` and `RecallServer` run from, instead of this checkout. */
  readonly ref: string | null
  /** Write a CPU profile of every server process into this folder. */
  readonly profile: string | null
  /** Extra Node flags for every server process (e.g. a heap setting, or a signal for heap snapshots). */
  readonly nodeArgs: ReadonlyArray<string>
  /** Extra flags for `callstream serve` (target a), e.g. `--recorder-threads 2`. */
  readonly serveArgs: ReadonlyArray<string>
  /** Keep the temporary folders (recordings, server logs). */
  readonly keep: boolean
  /** The folder each run's recordings and server logs go in (a folder of its own per run); null: the default. */
  readonly dir: string | null
  /** Run the servers from their TypeScript sources through tsx instead of compiled (see `compile.ts`). */
  readonly tsx: boolean
  /** Scale-out: start a second worker this many seconds after the deployment is ready; null: one worker. */
  readonly joinWorkerAfterSeconds: number | null
  /** Webcams per bot, each sending a PNG frame every 500 ms (0: audio and speech only). */
  readonly cameras: number
}

export const usage = `npm run bench:load -- [flags]

  --levels 250,500,1000,2000   bots per load level
  --duration 20                seconds every bot sends after the ramp
  --ramp 5                     seconds over which connections open
  --targets serve,library,bare,bare-recorder,scale-out   (or a,b,c,d,e; scale-out needs redis-server)
  --rounds 1                   run every level this many times, the targets in turn each round (a b c, a b c:
                               every target sees the same stretch of the machine's load); the report adds each
                               level's median and range over the rounds
  --soak                       one long run against serve: 500 bots for 600 s unless --levels/--duration say
                               otherwise, CPU and RSS over time
  --sample 30                  soak: seconds per row of the table over time (default: 20 rows)
  --handshake-timeout 10       seconds a bot waits for its opening handshake
  --video N                    each bot also sends N participants' webcams, a 32-KB PNG frame every 500 ms each
                               (serve and the bare recorder write each frame as a file of its own)
  --ping-sample 50             connections pinged once a second for the round trip
  --max-buffered 4             MB a connection may hold unsent before messages are skipped (and counted)
  --label TEXT                 a title for the section
  --note TEXT                  a sentence on what else ran on the machine, added to the noise note
  --write FILE                 where the Markdown section is appended (default BENCHMARKS.md)
  --no-write                   print only
  --ref REV                    run serve and RecallServer from the packages at a git revision (before/after)
  --profile DIR                write CPU profiles of every server into DIR/<target>-<bots>/ (one per thread)
  --node-args "FLAGS"          extra Node flags for every server process, e.g. "--heapsnapshot-signal=SIGUSR2"
  --serve-args "FLAGS"         extra flags for callstream serve (a), e.g. "--recorder-threads 2"
  --keep                       keep the temporary folders (recordings, server logs)
  --dir DIR                    where each run's folder (recordings, server logs) is made (default
                               node_modules/.callstream-load-runs in the checkout, the file system a user's
                               recordings folder would be on)
  --tsx                        run the servers from their sources through tsx (file names in CPU profiles; each
                               process then also carries tsx's loader thread) instead of compiled
  --join-worker-after S        scale-out (e): a second worker starts S seconds after the deployment is ready and
                               takes its share of the partitions from the first while the bots send; its CPU and
                               RSS count with the rest, and the first worker's handovers are printed`

export class UsageError extends Error {}

const positive = (flag: string, text: string | undefined): number => {
  const n = Number(text)
  if (text === undefined || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} needs a positive number`)
  return n
}

export const parse = (argv: ReadonlyArray<string>): Options => {
  const flags = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument ${arg}`)
    const [name, inline] = arg.slice(2).split("=", 2) as [string, string | undefined]
    const takesValue = !["soak", "no-write", "keep", "tsx", "help"].includes(name)
    if (!takesValue) flags.set(name, true)
    else flags.set(name, inline ?? argv[++i] ?? "")
  }
  const known = [
    "levels",
    "duration",
    "ramp",
    "targets",
    "rounds",
    "soak",
    "sample",
    "handshake-timeout",
    "ping-sample",
    "max-buffered",
    "label",
    "note",
    "write",
    "no-write",
    "profile",
    "node-args",
    "serve-args",
    "ref",
    "keep",
    "dir",
    "tsx",
    "join-worker-after",
    "video",
    "help"
  ]
  for (const name of flags.keys()) if (!known.includes(name)) throw new UsageError(`unknown flag --${name}`)
  if (flags.has("help")) throw new UsageError("")
  const text = (name: string) => {
    const value = flags.get(name)
    return typeof value === "string" ? value : undefined
  }
  const soak = flags.has("soak")
  const levels = text("levels") === undefined
    ? soak ? [500] : [250, 500, 1000, 2000]
    : text("levels")!.split(",").map((level) => Math.round(positive("--levels", level)))
  const chosen = text("targets") === undefined
    ? soak ? ["serve"] : targets.map((t) => t.id)
    : text("targets")!.split(",").map((name) => {
      const target = targets.find((t) => t.id === name || t.letter === name)
      if (target === undefined) {
        throw new UsageError(`--targets: unknown ${name} (choose from ${targets.map((t) => t.id).join(", ")})`)
      }
      return target.id
    })
  const durationSeconds = text("duration") === undefined ? (soak ? 600 : 20) : positive("--duration", text("duration"))
  return {
    levels,
    durationSeconds,
    rampSeconds: text("ramp") === undefined ? 5 : positive("--ramp", text("ramp")),
    targets: targets.map((t) => t.id).filter((id) => chosen.includes(id)),
    rounds: text("rounds") === undefined ? 1 : Math.round(positive("--rounds", text("rounds"))),
    soak,
    sampleSeconds: text("sample") === undefined
      ? Math.max(5, Math.round(durationSeconds / 20))
      : positive("--sample", text("sample")),
    handshakeTimeoutSeconds: text("handshake-timeout") === undefined
      ? 10
      : positive("--handshake-timeout", text("handshake-timeout")),
    pingSample: text("ping-sample") === undefined ? 50 : Math.round(positive("--ping-sample", text("ping-sample"))),
    maxBufferedMb: text("max-buffered") === undefined ? 4 : positive("--max-buffered", text("max-buffered")),
    write: flags.has("no-write") ? null : text("write") ?? "BENCHMARKS.md",
    label: text("label") ?? (soak ? "soak" : "real-time load"),
    note: text("note") ?? null,
    profile: text("profile") ?? null,
    nodeArgs: (text("node-args") ?? "").split(" ").filter((arg) => arg !== ""),
    serveArgs: (text("serve-args") ?? "").split(" ").filter((arg) => arg !== ""),
    ref: text("ref") ?? null,
    keep: flags.has("keep"),
    dir: text("dir") ?? null,
    tsx: flags.has("tsx"),
    joinWorkerAfterSeconds: text("join-worker-after") === undefined
      ? null
      : positive("--join-worker-after", text("join-worker-after")),
    cameras: text("video") === undefined ? 0 : Math.round(positive("--video", text("video")))
  }
}
