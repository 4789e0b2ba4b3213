/**
 * The Markdown section a load run prints and appends to BENCHMARKS.md.
 */
import * as Os from "node:os"
import type { Measurement, Point } from "./measure.js"
import { cycleOf, perBotOf } from "./messages.js"
import type { Options } from "./options.js"
import { max, median, type Spread } from "./stats.js"
import { BASELINE } from "./targets.js"

const int = (n: number) => Math.round(n).toLocaleString("en-US")
const pct = (n: number) => (Number.isNaN(n) ? "-" : `${Math.round(n)}%`)
const mb = (bytes: number) => (Number.isNaN(bytes) ? "-" : `${Math.round(bytes / 1024 / 1024)} MB`)
const ms = (n: number) => (Number.isNaN(n) ? "-" : n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`)
const seconds = (n: number) => (Number.isNaN(n) ? "-" : `${n.toFixed(1)} s`)
const pair = (s: Spread, format: (n: number) => string) => `${format(s.median)} / ${format(s.max)}`
const reasons = (counts: Readonly<Record<string, number>>) =>
  Object.entries(counts).map(([reason, n]) => `${int(n)} ${reason}`).join(", ")

const connections = (m: Measurement): string => {
  const notes = [
    reasons(m.failures),
    Object.keys(m.dropped).length === 0 ? "" : `dropped: ${reasons(m.dropped)}`,
    m.cut === 0 ? "" : `${int(m.cut)} cut at close`
  ].filter((n) => n !== "")
  return `${int(m.accepted)} / ${int(m.bots)}${notes.length === 0 ? "" : ` (${notes.join("; ")})`}`
}

const lost = (m: Measurement): string => {
  if (m.received === null) return `? (${m.stopped.exits.join(", ")})`
  if (!m.stopped.clean) return `${int(m.sent - m.received)} by what its files held after ${m.stopped.exits.join(", ")}`
  const n = m.sent - m.received
  const share = m.sent === 0 ? 0 : (100 * n) / m.sent
  const parts = [n === 0 ? "0" : `${int(n)} (${share.toFixed(share < 1 ? 2 : 1)}%)`]
  if (m.sessions !== null && m.sessions.short > 0) parts.push(`${int(m.sessions.short)} sessions short`)
  if (m.sessions !== null && m.sessions.droppedMedia > 0) {
    parts.push(`${int(m.sessions.droppedMedia)} of them shed as media by the server (recorded as drops)`)
  }
  if (m.sessions !== null && m.sessions.found < m.accepted) {
    parts.push(`${int(m.accepted - m.sessions.found)} sessions missing`)
  }
  if (m.skipped > 0) parts.push(`+${int(m.skipped)} not sent`)
  if (m.failedWrites > 0) parts.push(`+${int(m.failedWrites)} writes failed`)
  if (m.decodeFailures > 0) parts.push(`${int(m.decodeFailures)} decode failures`)
  return parts.join(", ")
}

/** The baseline's run beside `m`: the same level, the same round. */
const baseOf = (m: Measurement, all: ReadonlyArray<Measurement>): Measurement | undefined =>
  all.find((b) => b.target.id === BASELINE && b.bots === m.bots && b.round === m.round)

const ratio = (m: Measurement, all: ReadonlyArray<Measurement>): string => {
  const base = baseOf(m, all)
  if (base === undefined || m.target.id === BASELINE || !(base.cpu.median > 0)) return "-"
  const times = `${(m.cpu.median / base.cpu.median).toFixed(1)}x`
  // a server that took fewer bots than the baseline carried less load: say so next to the ratio
  return m.accepted < base.accepted ? `${times} (with ${pct((100 * m.accepted) / base.accepted)} of the bots)` : times
}

const MAIN_HEADER = "| bots | server | connections | sent | received / recorded | lost | CPU median / max | " +
  "CPU vs bare | RSS median / max | ping p50 / p99 | WAV lag p50 / max |\n" +
  "| ---: | --- | --- | ---: | ---: | --- | --- | ---: | --- | --- | --- |"

/** The level, and the round when there are several. */
const botsCell = (m: Measurement, options: Options) =>
  options.rounds === 1 ? int(m.bots) : `${int(m.bots)} (round ${m.round})`

const mainRow = (m: Measurement, all: ReadonlyArray<Measurement>, options: Options) =>
  `| ${botsCell(m, options)} | (${m.target.letter}) ${m.target.label} | ${connections(m)} | ${int(m.sent)} | ${
    m.received === null ? "?" : `${int(m.received)}${m.stopped.clean ? "" : " (killed)"}`
  } | ${lost(m)} | ${pair(m.cpu, pct)} | ${ratio(m, all)} | ${pair(m.rss, mb)} | ${ms(m.ping.p50)} / ${
    ms(m.ping.p99)
  } | ${m.lag === null ? "-" : pair(m.lag, seconds)} |`

const SIDE_HEADER = "| bots | server | generator CPU median / max | send lateness p99 / max | harness CPU | " +
  "other processes' CPU | file create | opening handshake p50 / p99 | stop after SIGTERM | RSS peak to exit | " +
  "pings answered | threads busy: main / recorder |\n" +
  "| ---: | --- | --- | --- | ---: | ---: | ---: | --- | --- | ---: | --- | --- |"

const createMs = (value: number) => `${value.toFixed(2)} ms`

/** The file-creation cost over the runs: one figure, or the range. */
const creates = (measurements: ReadonlyArray<Measurement>): string => {
  const values = measurements.map((m) => m.fileCreateMs)
  if (values.length === 0) return "-"
  const lo = Math.min(...values)
  const hi = Math.max(...values)
  return createMs(lo) === createMs(hi) ? createMs(lo) : `${createMs(lo)} to ${createMs(hi)}`
}

/**
 * The generator's own health: saturated when it used most of a core, behind when its sends were late for another
 * reason (the machine had no core free for it). Either way the server saw less than the nominal load, later.
 */
const generatorNote = (m: Measurement) =>
  m.generatorCpu.median >= 90 ? " **saturated**" : m.lateness.p99 > 100 ? " **behind schedule**" : ""

const sideRow = (m: Measurement, options: Options) =>
  `| ${botsCell(m, options)} | (${m.target.letter}) | ${pair(m.generatorCpu, pct)}${generatorNote(m)} | ${
    ms(m.lateness.p99)
  } / ${ms(m.lateness.max)} | ${pct(m.harnessCpu)} | ${pct(m.others)} | ${createMs(m.fileCreateMs)} | ${
    ms(m.handshake.p50)
  } / ${ms(m.handshake.p99)} | ${seconds(m.stopped.stopMs / 1000)}${
    m.stopped.clean ? "" : ` (${m.stopped.exits.join(", ")})`
  } | ${mb(m.rssPeak)} | ${int(m.ping.answered)} of ${int(m.ping.sent)} | ${threadsBusy(m)} |`

/** The server's own account of its threads (event loop busy, % of a second), where it gives one. */
const threadsBusy = (m: Measurement): string =>
  m.threads === null
    ? "-"
    : `${pct(100 * m.threads.main)} / ${m.threads.recorder === null ? "-" : pct(100 * m.threads.recorder)}`

/** `median (lowest to highest)` of the values, each formatted (one value when they are all the same); `-` for none. */
const ranged = (values: ReadonlyArray<number>, format: (n: number) => string): string => {
  const known = values.filter((v) => !Number.isNaN(v))
  if (known.length === 0) return "-"
  const lo = format(Math.min(...known))
  const hi = format(Math.max(...known))
  return `${format(median(known))} (${lo === hi ? lo : `${lo} to ${hi}`})`
}

const OVER_ROUNDS_HEADER =
  "| bots | server | runs | connections, fewest | lost, all runs | CPU median | CPU vs bare | " +
  "RSS median | ping p99 | WAV lag p50 |\n" +
  "| ---: | --- | ---: | ---: | ---: | --- | --- | --- | --- | --- |"

/**
 * Per level and target, over the rounds: the median of the runs' figures and their range. The ratio to bare is taken
 * per round (each run against the bare server's run of the same round), then summed up the same way.
 */
const overRounds = (measurements: ReadonlyArray<Measurement>, options: Options): string => {
  const rows: Array<string> = []
  for (const bots of options.levels) {
    for (const id of options.targets) {
      const runs = measurements.filter((m) => m.bots === bots && m.target.id === id)
      if (runs.length === 0) continue
      const target = runs[0]!.target
      const ratios = runs.flatMap((m) => {
        const base = baseOf(m, measurements)
        return base === undefined || m === base || !(base.cpu.median > 0) ? [] : [m.cpu.median / base.cpu.median]
      })
      const lost = runs.every((m) => m.received !== null)
        ? int(runs.reduce((n, m) => n + m.sent - m.received!, 0))
        : "?"
      rows.push(
        `| ${int(bots)} | (${target.letter}) ${target.label} | ${runs.length} | ${
          int(Math.min(...runs.map((m) => m.accepted)))
        } / ${int(bots)} | ${lost} | ${ranged(runs.map((m) => m.cpu.median), pct)} | ${
          ratios.length === 0 ? "-" : ranged(ratios, (r) => `${r.toFixed(1)}x`)
        } | ${ranged(runs.map((m) => m.rss.median), mb)} | ${ranged(runs.map((m) => m.ping.p99), ms)} | ${
          ranged(runs.map((m) => m.lag?.median ?? NaN), seconds)
        } |`
      )
    }
  }
  return [
    `Over the ${options.rounds} rounds (each level's servers ran in turn, round after round): the median of the ` +
    `runs' figures, and their range.`,
    "",
    OVER_ROUNDS_HEADER,
    ...rows
  ].join("\n")
}

const SPARKS = "▁▂▃▄▅▆▇█"
const sparkline = (values: ReadonlyArray<number>): string => {
  const lo = Math.min(...values)
  const hi = Math.max(...values)
  return values.map((v) => SPARKS[hi === lo ? 0 : Math.round(((v - lo) / (hi - lo)) * (SPARKS.length - 1))]).join("")
}

/** The series cut into rows of `everySeconds`: medians of CPU, the last RSS, the median lag and recorder load. */
const timeline = (series: ReadonlyArray<Point>, everySeconds: number): string => {
  const rows: Array<string> = []
  const end = series.at(-1)?.at ?? 0
  for (let from = 0; from < end; from += everySeconds) {
    const part = series.filter((p) => p.at > from && p.at <= from + everySeconds)
    if (part.length === 0) continue
    const lags = part.flatMap((p) => (p.lag === null ? [] : [p.lag]))
    const busy = part.flatMap((p) => (p.recorderBusy === null ? [] : [p.recorderBusy]))
    rows.push(
      `| ${Math.round(Math.min(end, from + everySeconds))} | ${pct(median(part.map((p) => p.serverCpu)))} | ${
        pct(max(part.map((p) => p.serverCpu)))
      } | ${mb(part.at(-1)!.serverRss)} | ${pct(median(part.map((p) => p.generatorCpu)))} | ${
        pct(median(part.map((p) => p.others)))
      } | ${lags.length === 0 ? "-" : seconds(median(lags))} | ${busy.length === 0 ? "-" : pct(100 * median(busy))} |`
    )
  }
  return "| t (s) | server CPU median | max | RSS at end | generator CPU | other processes | WAV lag p50 | " +
    "recorder thread busy |\n" +
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" + rows.join("\n")
}

const soakSummary = (m: Measurement, options: Options): string => {
  const held = m.accepted - Object.values(m.dropped).reduce((a, b) => a + b, 0)
  const rss = m.series.map((p) => p.serverRss)
  const cpu = m.series.map((p) => p.serverCpu)
  return [
    `Soak: ${int(m.bots)} bots for ${seconds(options.durationSeconds)} against (${m.target.letter}) ${m.target.label}.`,
    `Connections held to the end: ${int(held)} of the ${int(m.accepted)} opened (${int(m.bots)} attempted${
      Object.keys(m.failures).length === 0 ? "" : `; never opened: ${reasons(m.failures)}`
    }); messages lost: ${lost(m)}.`,
    "",
    `RSS over time (1 s samples, ${mb(Math.min(...rss))} to ${mb(Math.max(...rss))}): \`${
      sparkline(downsample(rss, 60))
    }\`  `,
    `CPU over time (${pct(Math.min(...cpu))} to ${pct(Math.max(...cpu))}): \`${sparkline(downsample(cpu, 60))}\``,
    "",
    timeline(m.series, options.sampleSeconds)
  ].join("\n")
}

const downsample = (values: ReadonlyArray<number>, points: number): ReadonlyArray<number> => {
  if (values.length <= points) return values
  return Array.from({ length: points }, (_, i) => {
    const part = values.slice(Math.floor((i * values.length) / points), Math.floor(((i + 1) * values.length) / points))
    return median(part)
  })
}

/** The whole section, for the terminal and for BENCHMARKS.md. */
export const render = (
  measurements: ReadonlyArray<Measurement>,
  options: Options,
  context: {
    readonly command: string
    readonly startedAt: Date
    /** Which version of the packages `serve` and `RecallServer` ran. */
    readonly code: string
    readonly note: string | null
    /** Measurements that could not be made, one line each. */
    readonly failures: ReadonlyArray<string>
  }
): string => {
  const cpus = Os.cpus()
  const others = measurements.map((m) => m.others)
  const perBot = perBotOf(cycleOf(options.cameras))
  const video = options.cameras === 0
    ? ""
    : ` (with ${options.cameras} webcam${options.cameras === 1 ? "" : "s"}: a 32-KB PNG frame every 500 ms each)`
  const lines = [
    `## ${options.label} (${context.startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC)`,
    "",
    `\`${context.command}\`  `,
    `\`callstream serve\` and \`RecallServer\` from ${context.code}.  `,
    `${cpus.length} cores (${cpus[0]?.model.trim() ?? "unknown"}), ${
      Math.round(Os.totalmem() / 1024 ** 3)
    } GB, Node ${process.version}, Linux ${Os.release()}.  `,
    `Per bot: ${perBot.messagesPerSecond.toFixed(1)} messages/s, ${
      (perBot.bytesPerSecond / 1000).toFixed(1)
    } KB/s${video}; connections opened over ${options.rampSeconds} s, then ${options.durationSeconds} s of sending. ` +
    `CPU is the server's whole process (all threads, % of one core) from /proc, sampled every second over the ` +
    `steady phase (after the ramp and a settling time, until sending stops); RSS likewise.`,
    "",
    `Machine noise: other processes on the machine used ${pct(median(others))} of a core (median over runs; ` +
    `up to ${pct(max(others))} in one run) while this ran. Creating a file in the folder the servers recorded ` +
    `into took ${creates(measurements)} of kernel time (mean over 500 files before each run; every run's in the ` +
    `second table).${context.note === null ? "" : ` ${context.note}`}`,
    ""
  ]
  if (options.soak) {
    for (const m of measurements) lines.push(soakSummary(m, options), "")
  }
  lines.push(MAIN_HEADER, ...measurements.map((m) => mainRow(m, measurements, options)), "")
  if (options.rounds > 1) lines.push(overRounds(measurements, options), "")
  lines.push("Load generator and stop:", "", SIDE_HEADER, ...measurements.map((m) => sideRow(m, options)), "")
  if (context.failures.length > 0) lines.push("Not measured:", "", ...context.failures.map((f) => `- ${f}`), "")
  return lines.join("\n")
}
