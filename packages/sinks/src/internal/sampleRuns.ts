import { BlockChain } from "./blockChain.js"

/**
 * Samples waiting to be written to one WAV track, as runs of consecutive samples: a chunk that starts where the
 * previous one ended is copied onto the end of its run, so a flush writes each run (usually one per track per tick)
 * with one call, and the decoded chunks themselves can be collected as soon as they are placed (holding them until
 * the flush would keep every one alive through a young-generation collection).
 *
 * A run's samples are held in a `BlockChain` (blocks of 8,192 samples, half a second at 16 kHz), whose blocks go
 * back to the pool once written: a track holds what waits, rounded up to a block, and in steady state no memory
 * is allocated for audio at all.
 *
 * @internal
 */
export interface Run {
  readonly offset: number
  /** Samples in the run. */
  readonly length: number
  /** The run's samples, block by block, in order. */
  readonly chunks: ReadonlyArray<Int16Array>
}

interface Open {
  readonly offset: number
  readonly chain: BlockChain
  length: number
}

const bytesOf = (samples: Int16Array): Uint8Array =>
  new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength)

// every append is whole samples, so every view of a run's chain starts and ends on a sample
const samplesOf = (view: Uint8Array): Int16Array =>
  new Int16Array(view.buffer, view.byteOffset, view.byteLength / Int16Array.BYTES_PER_ELEMENT)

/** @internal */
export class SampleRuns {
  // taken runs (waiting for their write to be confirmed), then at most one open run at the end
  private runs: Array<Run> = []
  private readonly chains = new Map<Run, BlockChain>()
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
      run = { offset, chain: new BlockChain(), length: 0 }
      this.open = run
    }
    run.chain.append(bytesOf(samples))
    run.length += samples.length
  }

  private close(): void {
    const run = this.open
    if (run === undefined) return
    const closed: Run = { offset: run.offset, length: run.length, chunks: run.chain.views().map(samplesOf) }
    this.runs.push(closed)
    this.chains.set(closed, run.chain)
    this.open = undefined
  }

  /** The runs waiting; they stay here until `written` or `drop`, and samples added later start new runs. */
  take(): ReadonlyArray<Run> {
    this.close()
    return this.runs.length === 0 ? [] : this.runs.slice()
  }

  /** `run` (from `take`) reached the disk: its blocks are free for other runs. */
  written(run: Run): void {
    const index = this.runs.indexOf(run)
    if (index === -1) return
    this.runs.splice(index, 1)
    this.count -= run.length
    const chain = this.chains.get(run)
    this.chains.delete(run)
    chain?.consume(chain.bytes)
  }

  /** Gives up every run waiting; returns how many samples that was. */
  drop(): number {
    const samples = this.count
    for (const chain of this.chains.values()) chain.forget()
    this.open?.chain.forget()
    this.runs = []
    this.chains.clear()
    this.open = undefined
    this.count = 0
    return samples
  }
}
