/**
 * Samples waiting to be written to one WAV track, as runs of consecutive samples: a chunk that starts where the
 * previous one ended is copied onto the end of its run, so a flush writes each run (usually one per track per tick)
 * in one call, and the decoded chunks themselves can be collected as soon as they are placed (holding them until
 * the flush would keep every one alive through a young-generation collection).
 *
 * @internal
 */
export interface Run {
  readonly offset: number
  readonly samples: Int16Array
}

interface Open {
  readonly offset: number
  buffer: Int16Array
  length: number
}

const FIRST_CAPACITY = 4096

/** @internal */
export class SampleRuns {
  // taken runs (waiting for their write to be confirmed), then at most one open run at the end
  private runs: Array<Run> = []
  private open: Open | undefined
  private count = 0

  /** Samples waiting. */
  get pending(): number {
    return this.count
  }

  add(offset: number, samples: Int16Array): void {
    if (samples.length === 0) return
    this.count += samples.length
    let run = this.open
    if (run === undefined || run.offset + run.length !== offset) {
      this.close()
      run = { offset, buffer: new Int16Array(Math.max(FIRST_CAPACITY, samples.length)), length: 0 }
      this.open = run
    }
    if (run.length + samples.length > run.buffer.length) {
      const grown = new Int16Array(Math.max(run.buffer.length * 2, run.length + samples.length))
      grown.set(run.buffer.subarray(0, run.length))
      run.buffer = grown
    }
    run.buffer.set(samples, run.length)
    run.length += samples.length
  }

  private close(): void {
    const run = this.open
    if (run === undefined) return
    this.runs.push({ offset: run.offset, samples: run.buffer.subarray(0, run.length) })
    this.open = undefined
  }

  /** The runs waiting; they stay here until `written` or `drop`, and samples added later start new runs. */
  take(): ReadonlyArray<Run> {
    this.close()
    return this.runs.length === 0 ? [] : this.runs.slice()
  }

  /** `run` (from `take`) reached the disk. */
  written(run: Run): void {
    const index = this.runs.indexOf(run)
    if (index === -1) return
    this.runs.splice(index, 1)
    this.count -= run.samples.length
  }

  /** Gives up every run waiting; returns how many samples that was. */
  drop(): number {
    const samples = this.count
    this.runs = []
    this.open = undefined
    this.count = 0
    return samples
  }
}
