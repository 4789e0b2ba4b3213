/**
 * Samples waiting to be written to one WAV track, as runs of consecutive samples: a chunk that starts where the
 * previous one ended joins its run, so a flush writes each run (usually one per track per tick) in one call.
 *
 * @internal
 */
export interface Run {
  readonly offset: number
  readonly samples: Int16Array
}

interface Open {
  readonly offset: number
  readonly parts: Array<Int16Array>
  length: number
}

/** @internal */
export class SampleRuns {
  private runs: Array<Open | Run> = []
  private count = 0

  /** Samples waiting. */
  get pending(): number {
    return this.count
  }

  add(offset: number, samples: Int16Array): void {
    if (samples.length === 0) return
    this.count += samples.length
    const last = this.runs[this.runs.length - 1]
    if (last !== undefined && "parts" in last && last.offset + last.length === offset) {
      last.parts.push(samples)
      last.length += samples.length
    } else {
      this.runs.push({ offset, parts: [samples], length: samples.length })
    }
  }

  /** The runs waiting, each as one array of samples; they stay here until `written` or `drop`. */
  take(): ReadonlyArray<Run> {
    if (this.runs.length === 0) return []
    this.runs = this.runs.map((run) => {
      if (!("parts" in run)) return run
      if (run.parts.length === 1) return { offset: run.offset, samples: run.parts[0]! }
      const samples = new Int16Array(run.length)
      let at = 0
      for (const part of run.parts) {
        samples.set(part, at)
        at += part.length
      }
      return { offset: run.offset, samples }
    })
    return (this.runs as ReadonlyArray<Run>).slice()
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
    this.count = 0
    return samples
  }
}
