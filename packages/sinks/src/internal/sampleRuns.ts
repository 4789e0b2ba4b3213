import * as BlockPool from "./blockPool.js"

/**
 * Samples waiting to be written to one WAV track, as runs of consecutive samples: a chunk that starts where the
 * previous one ended is copied onto the end of its run, so a flush writes each run (usually one per track per tick)
 * with one call, and the decoded chunks themselves can be collected as soon as they are placed (holding them until
 * the flush would keep every one alive through a young-generation collection).
 *
 * A run's samples are held in blocks of the process's `BlockPool` (8,192 samples, half a second at 16 kHz), which
 * go back to the pool once written: a track holds what waits, rounded up to a block, and in steady state no memory
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
  readonly blocks: Array<Buffer>
  // the last block's samples
  view: Int16Array
  length: number
}

const SAMPLES_PER_BLOCK = BlockPool.BLOCK_BYTES / Int16Array.BYTES_PER_ELEMENT

const samplesOf = (block: Buffer): Int16Array => new Int16Array(block.buffer, block.byteOffset, SAMPLES_PER_BLOCK)

/** @internal */
export class SampleRuns {
  // taken runs (waiting for their write to be confirmed), then at most one open run at the end
  private runs: Array<Run> = []
  private readonly blocks = new Map<Run, ReadonlyArray<Buffer>>()
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
      const block = BlockPool.take()
      run = { offset, blocks: [block], view: samplesOf(block), length: 0 }
      this.open = run
    }
    let from = 0
    while (from < samples.length) {
      let at = run.length % SAMPLES_PER_BLOCK
      if (at === 0 && run.length > 0) {
        const block = BlockPool.take()
        run.blocks.push(block)
        run.view = samplesOf(block)
        at = 0
      }
      const count = Math.min(SAMPLES_PER_BLOCK - at, samples.length - from)
      run.view.set(from === 0 && count === samples.length ? samples : samples.subarray(from, from + count), at)
      run.length += count
      from += count
    }
  }

  private close(): void {
    const run = this.open
    if (run === undefined) return
    const last = run.blocks.length - 1
    const tail = run.length - last * SAMPLES_PER_BLOCK
    const closed: Run = {
      offset: run.offset,
      length: run.length,
      chunks: run.blocks.map((block, i) => i === last ? run.view.subarray(0, tail) : samplesOf(block))
    }
    this.runs.push(closed)
    this.blocks.set(closed, run.blocks)
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
    const blocks = this.blocks.get(run)
    this.blocks.delete(run)
    if (blocks !== undefined) { for (const block of blocks) BlockPool.give(block) }
  }

  /** Gives up every run waiting; returns how many samples that was. */
  drop(): number {
    const samples = this.count
    // a write may still be reading them: left to the garbage collector
    for (const blocks of this.blocks.values()) for (const block of blocks) BlockPool.forget(block)
    if (this.open !== undefined) { for (const block of this.open.blocks) BlockPool.forget(block) }
    this.runs = []
    this.blocks.clear()
    this.open = undefined
    this.count = 0
    return samples
  }
}
