/**
 * The Node flag `serve`'s header suggests, if any. Node reads these only when it starts, so `serve` can only say so:
 * nothing changes when they are left out. Two are measured (BENCHMARKS.md), each where it helped:
 *
 * - `--v8-pool-size=1`, recording on recorder threads on a machine of two cores or fewer. Node gives V8 four
 *   threads for background work (mostly the collectors'); `serve` then runs two JavaScript threads with a heap
 *   each, and the four compete with them for both cores. At 1,000 recorded meetings on two cores ("A fast hour at
 *   the last commit, and V8's thread pool on two cores"), in each of six alternating pairs: RSS median 11 to 83 MB
 *   lower, a lower CPU peak, ping p99 9.7-11 ms against 16-34 ms. A larger machine was not measured.
 * - `--max-semi-space-size=32`, recording on the main thread (`--recorder-threads 0`). What the recorder allocates
 *   lives for a batch, and with Node's young generation (semi-spaces of 16 MiB) too much of it outlives two young
 *   collections and is moved to the old generation, to be marked and swept there; a recorder thread gets semi-spaces
 *   of 32 MiB through its resource limits, the main thread only through this flag. At 1,000 recorded meetings on two
 *   cores ("Recording on the main thread"): 87-101% of a core against 115-122% without it.
 *
 * A receiver publishing to Redis records nothing here, and gets no tip.
 *
 * @internal
 */
import * as os from "node:os"

/** Where `serve` records: on recorder threads, on its main thread (`--recorder-threads 0`), or not here (`--redis`). */
export type Recording = "threads" | "main thread" | "elsewhere"

/** What the tip depends on. */
export interface Facts {
  readonly cores: number
  /** Node's own flags (`process.execArgv`). */
  readonly execArgv: ReadonlyArray<string>
  /** `NODE_OPTIONS`, whose flags `process.execArgv` does not list. */
  readonly nodeOptions: string | undefined
  readonly recording: Recording
}

const POOL = "--v8-pool-size"
const SEMI_SPACE = "--max-semi-space-size"

// Node takes its options with underscores as well as dashes between the words
const given = (facts: Facts, flag: string): boolean =>
  [...facts.execArgv, ...(facts.nodeOptions ?? "").split(/\s+/)].some((arg) =>
    arg.split("=")[0]!.replaceAll("_", "-") === flag
  )

/** The tip, or undefined when none applies (more cores, not recording here, or the flag already given). */
export const tip = (facts: Facts): string | undefined => {
  switch (facts.recording) {
    case "threads":
      if (facts.cores > 2 || given(facts, POOL)) return undefined
      return `tip: on ${facts.cores === 1 ? "1 core" : `${facts.cores} cores`}, start Node with ` +
        `NODE_OPTIONS=${POOL}=1 (less memory and steadier CPU under load; see the README)`
    case "main thread":
      if (given(facts, SEMI_SPACE)) return undefined
      return `tip: recording on the main thread, start Node with NODE_OPTIONS=${SEMI_SPACE}=32 ` +
        `(room for what the recorder allocates: less CPU under load; see the README)`
    case "elsewhere":
      return undefined
  }
}

/** The facts of this process. */
export const facts = (recording: Recording): Facts => ({
  cores: os.availableParallelism(),
  execArgv: process.execArgv,
  nodeOptions: process.env.NODE_OPTIONS,
  recording
})
