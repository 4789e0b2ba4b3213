/**
 * Real-time load: N simulated Recall bots, one websocket connection each, sending like a meeting does (100 ms
 * mixed-audio chunks, a speech_on/off pair and a transcript every 2 s), from a generator process of their own,
 * against the servers started by this harness in the same run:
 *
 *   (a) `callstream serve`, recording every meeting into a temporary folder
 *   (b) `RecallServer` with a consumer that reads every event
 *   (c) a bare `ws` server: `JSON.parse` and base64 decode of audio
 *   (d) that bare server also recording: tape and PCM per session, one write per file every 250 ms
 *   (e) scale-out: `serve --redis` and `callstream worker` on a local `redis-server` (skipped without one)
 *
 *   npm run bench:load                                    # 250 / 500 / 1,000 / 2,000 bots, 20 s each
 *   npm run bench:load -- --levels 50 --duration 10       # a quick look
 *   npm run bench:load -- --soak                          # 500 bots for 10 minutes against (a)
 *   npm run bench:load -- --levels 1000 --rounds 3        # each server three times, in turn: medians and ranges
 *   npm run bench:load -- --help
 *
 * Per level and server it reports connections accepted, messages sent against received or recorded (for `serve`,
 * from every `session.json` after a SIGTERM and a clean exit), the server's CPU (all threads) and RSS from
 * `/proc`, the ping round trip a sample of bots sees, how far the audio on disk lags the audio sent, the CPU
 * ratio to the bare server, and for `serve` how busy its main thread and its recorder thread were (its own
 * `/metrics`, scraped every second: a recorder thread near 100% is one that cannot keep up). The Markdown section
 * is printed and appended to BENCHMARKS.md. On a shared machine one run of a server can differ from the next by more
 * than a change under test (RSS by 50 MB or more at 1,000 bots): `--rounds` repeats each level, the servers in turn,
 * and reports the median and the range over the rounds. Linux only (`/proc`); traffic stays on 127.0.0.1; every
 * phase has a deadline, so a run ends by itself.
 */
import * as Fs from "node:fs/promises"
import * as Code from "./load/code.js"
import * as Compile from "./load/compile.js"
import { killAll, measure, type Measurement } from "./load/measure.js"
import * as Messages from "./load/messages.js"
import { type Options, parse, usage, UsageError } from "./load/options.js"
import { render } from "./load/report.js"
import { targets } from "./load/targets.js"

const PAUSE_MS = 2000

const progress = (m: Measurement, tookMs: number) =>
  console.error(
    `  ${m.target.id}: ${m.accepted}/${m.bots} connected, sent ${m.sent}, received ${m.received ?? "?"}, ` +
      `CPU ${Math.round(m.cpu.median)}% (max ${Math.round(m.cpu.max)}%), RSS ${
        Math.round(m.rss.max / 1024 / 1024)
      } MB, generator ${Math.round(m.generatorCpu.median)}%; ` +
      `took ${Math.round(tookMs / 1000)} s, of which ${Math.round(m.stopped.stopMs / 1000)} s to stop`
  )

const shellQuoted = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`)

const run = async (options: Options) => {
  Messages.check(Messages.cycleOf(options.cameras))
  const code = options.ref === null ? Code.current() : await Code.atRevision(options.ref)
  onInterrupt = code.remove
  const programs = options.tsx ? Compile.sources(code.root) : await Compile.compiled(code.root)
  const startedAt = new Date()
  const measurements: Array<Measurement> = []
  const failures: Array<string> = []
  for (const bots of options.levels) {
    for (let round = 1; round <= options.rounds; round++) {
      for (const id of options.targets) {
        const target = targets.find((t) => t.id === id)!
        const of = options.rounds === 1 ? "" : ` (round ${round} of ${options.rounds})`
        console.error(`${bots} bots against (${target.letter}) ${target.id}${of}...`)
        const began = Date.now()
        try {
          const m = await measure(target, bots, round, options, programs)
          progress(m, Date.now() - began)
          measurements.push(m)
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          console.error(`  failed: ${message}`)
          failures.push(`(${target.letter}) ${target.id} at ${bots} bots${of}: ${message.split("\n")[0]}`)
        }
        await new Promise((resolve) => setTimeout(resolve, PAUSE_MS))
      }
    }
  }
  const args = process.argv.slice(2).map(shellQuoted)
  const command = ["npm run bench:load", ...(args.length > 0 ? ["--", ...args] : [])].join(" ")
  code.remove()
  const section = render(measurements, options, {
    command,
    startedAt,
    code: `${code.description}, ${programs.description}`,
    note: options.note,
    failures
  })
  console.log(section)
  if (options.write !== null) {
    await Fs.appendFile(options.write, `\n${section}`)
    console.error(`appended to ${options.write}`)
  }
}

let options: Options
try {
  options = parse(process.argv.slice(2))
} catch (error) {
  if (!(error instanceof UsageError)) throw error
  if (error.message !== "") console.error(error.message)
  console.error(usage)
  process.exit(error.message === "" ? 0 : 2)
}
let onInterrupt = () => {}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll()
    onInterrupt()
    process.exit(130)
  })
}
run(options).catch((error) => {
  console.error(error)
  process.exit(1)
})
