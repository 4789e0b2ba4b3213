/**
 * CPU and memory of whole processes, from Linux's `/proc`: CPU time of every thread of a process (the event loop,
 * libuv's pool, V8's helpers) from `/proc/<pid>/stat`, resident memory from `/proc/<pid>/status`, and the busy
 * time of the whole machine from `/proc/stat`, so the load of processes outside the benchmark can be stated.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** CPU seconds (user + system, all threads) a process has used, or null once it is gone. */
const cpuSecondsOf = (pid: number): number | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    // the command name is in parentheses and may hold spaces: count fields after the last ")"
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
  } catch {
    return null
  }
}

/** Resident set size in bytes, or null once the process is gone. */
const rssOf = (pid: number): number | null => {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"))
    return match === null ? null : Number(match[1]) * 1024
  } catch {
    return null
  }
}

/** Busy CPU seconds of the whole machine, all cores together. */
const machineBusySeconds = (): number => {
  const line = readFileSync("/proc/stat", "latin1").split("\n", 1)[0]!
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / ticksPerSecond
}

/** One sample: for each group of processes, CPU as % of one core since the previous sample, and RSS. */
export interface Sample {
  /** Epoch ms. */
  readonly at: number
  readonly cpu: Readonly<Record<string, number>>
  readonly rss: Readonly<Record<string, number>>
  /** CPU used by every process on the machine outside the groups, as % of one core. */
  readonly others: number
}

/**
 * Samples groups of processes (a server under test may be several processes; their CPU and RSS add up) every
 * `intervalMs` until stopped. Groups can be replaced while it runs (a server restarted).
 */
export class ProcSampler {
  readonly samples: Array<Sample> = []
  private readonly timer: NodeJS.Timeout
  private last: { at: number; busy: number; cpu: Record<string, number> }

  constructor(private readonly groups: Record<string, ReadonlyArray<number>>, intervalMs: number) {
    this.last = this.read()
    this.timer = setInterval(() => this.sample(), intervalMs)
  }

  private read() {
    const cpu: Record<string, number> = {}
    for (const [name, pids] of Object.entries(this.groups)) {
      cpu[name] = pids.reduce((sum, pid) => sum + (cpuSecondsOf(pid) ?? 0), 0)
    }
    return { at: Date.now(), busy: machineBusySeconds(), cpu }
  }

  private sample() {
    const current = this.read()
    const seconds = (current.at - this.last.at) / 1000
    if (seconds <= 0) return
    const cpu: Record<string, number> = {}
    const rss: Record<string, number> = {}
    let ours = 0
    for (const [name, pids] of Object.entries(this.groups)) {
      // a process that exited reads as 0: clamp so the last sample is not negative
      const used = Math.max(0, current.cpu[name]! - (this.last.cpu[name] ?? 0))
      cpu[name] = (100 * used) / seconds
      ours += used
      rss[name] = pids.reduce((sum, pid) => sum + (rssOf(pid) ?? 0), 0)
    }
    const others = Math.max(0, (100 * (current.busy - this.last.busy - ours)) / seconds)
    this.samples.push({ at: current.at, cpu, rss, others })
    this.last = current
  }

  stop(): ReadonlyArray<Sample> {
    clearInterval(this.timer)
    return this.samples
  }
}
