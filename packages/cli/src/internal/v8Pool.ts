/**
 * Whether `serve` suggests Node's `--v8-pool-size=1` in its header. Node gives V8 four threads for background work
 * (mostly the collectors'); `serve` recording here runs two JavaScript threads with a heap each, and on a machine with
 * two cores those four threads compete with them for both cores. Measured at 1,000 recorded meetings on two cores
 * (BENCHMARKS.md, "A fast hour at the last commit, and V8's thread pool on two cores"), in each of six alternating
 * pairs: RSS median 11 to 83 MB lower, a lower CPU peak, ping p99 9.7-11 ms against 16-34 ms. Node reads the setting
 * only when it starts, so `serve` can only say so: nothing changes when it is left out. A receiver publishing to
 * Redis and `--recorder-threads 0` run one JavaScript thread, and a larger machine was not measured, so none of
 * them gets the tip.
 *
 * @internal
 */
import * as os from "node:os"

/** What the tip depends on. */
export interface Facts {
  readonly cores: number
  /** Node's own flags (`process.execArgv`). */
  readonly execArgv: ReadonlyArray<string>
  /** `NODE_OPTIONS`, whose flags `process.execArgv` does not list. */
  readonly nodeOptions: string | undefined
  /** `serve` records in this process on recorder threads (not `--redis`, not `--recorder-threads 0`). */
  readonly recordsHere: boolean
}

const FLAG = "--v8-pool-size"

// Node takes its options with underscores as well as dashes between the words
const names = (flags: ReadonlyArray<string>) => flags.some((flag) => flag.split("=")[0]!.replaceAll("_", "-") === FLAG)

/** The tip, or undefined when it does not apply (more cores, not recording here, or the pool size already set). */
export const tip = (facts: Facts): string | undefined => {
  if (!facts.recordsHere || facts.cores > 2) return undefined
  if (names(facts.execArgv) || names((facts.nodeOptions ?? "").split(/\s+/))) return undefined
  return `tip: on ${facts.cores === 1 ? "1 core" : `${facts.cores} cores`}, start Node with ` +
    `NODE_OPTIONS=${FLAG}=1 (less memory and steadier CPU under load; see the README)`
}

/** The facts of this process. */
export const facts = (recordsHere: boolean): Facts => ({
  cores: os.availableParallelism(),
  execArgv: process.execArgv,
  nodeOptions: process.env.NODE_OPTIONS,
  recordsHere
})
