/**
 * Samples waiting to be written to one WAV track, as runs of consecutive samples: a chunk that starts where the
 * previous one ended is copied onto the end of its run, so a flush writes each run (usually one per track per tick)
 * in one call, and the decoded chunks themselves can be collected as soon as they are placed (holding them until
 * the flush would keep every one alive through a young-generation collection).
 *
 * A run's buffer is sized after the track's last run (a flush interval of audio, typically; see `HEADROOM`), and
 * once written it goes back to a pool that every track of the process draws from: in steady state no buffer is
 * allocated, and only the runs being collected or written hold one.
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

// A run is sized for half as much again as the track's last one: a flush that comes a little later than the last
// (a busy recorder) then finds its samples in one buffer, where a run sized exactly outgrew it (a larger buffer, a
// copy) and had the next run sized for the larger class. At 1,000 recorded meetings, with 1 s of 16 kHz audio
// between two flushes (16,000 samples, a capacity of 16,384), a sixth of the runs a second outgrew theirs, and the
// runs' sizes went back and forth between two classes faster than the pool could follow: about 470 buffers (25 MB)
// allocated a second.
const HEADROOM = 1.5

// written runs' buffers, by capacity (a power of two), for the next runs of any track. How many a size keeps follows
// how many of that size are in use: a quarter of them, and at least `POOLED_BYTES` worth. At 1,000 sessions about
// a thousand runs are in use (32 KiB each when this was measured, 64 KiB with `HEADROOM`) and a fifth of them come
// back at each tick of the flush timer, to be taken again by the next chunks; a fixed 2 MiB kept 64 of them and had
// the rest allocated (and zero-filled) anew, 20 MB a second. A size no longer in demand (the large runs of a flush
// that was late) is trimmed back to its floor as other buffers come back, so such runs are not kept for good (at up
// to 64 of each size, a soak at 500 sessions held 58 MB in 266 pooled buffers after three minutes).
interface SizeClass {
  readonly free: Array<Int16Array>
  /** Buffers of this size handed out and not given back. */
  inUse: number
}

const pool = new Map<number, SizeClass>()
const POOLED_BYTES = 2 * 1024 * 1024

const capacityFor = (samples: number): number => {
  let capacity = FIRST_CAPACITY
  while (capacity < samples) capacity *= 2
  return capacity
}

const classOf = (capacity: number): SizeClass => {
  let size = pool.get(capacity)
  if (size === undefined) pool.set(capacity, size = { free: [], inUse: 0 })
  return size
}

const kept = (capacity: number, size: SizeClass): number =>
  Math.max(Math.floor(POOLED_BYTES / (capacity * 2)), Math.ceil(size.inUse / 4))

const allocate = (samples: number): Int16Array => {
  const capacity = capacityFor(samples)
  const size = classOf(capacity)
  size.inUse++
  return size.free.pop() ?? new Int16Array(capacity)
}

const release = (buffer: Int16Array): void => {
  const size = classOf(buffer.length)
  size.inUse--
  if (size.free.length < kept(buffer.length, size)) size.free.push(buffer)
  for (const [capacity, other] of pool) {
    if (other.free.length > kept(capacity, other)) other.free.pop()
  }
}

/** A buffer handed out that will not come back (its runs were given up). */
const forget = (buffer: Int16Array): void => {
  classOf(buffer.length).inUse--
}

/** @internal */
export class SampleRuns {
  // taken runs (waiting for their write to be confirmed), then at most one open run at the end
  private runs: Array<Run> = []
  private readonly buffers = new Map<Run, Int16Array>()
  private open: Open | undefined
  private count = 0
  // the length of the last run closed: the next one is sized for as much
  private lastLength = 0

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
      run = { offset, buffer: allocate(Math.max(this.lastLength * HEADROOM, samples.length)), length: 0 }
      this.open = run
    }
    if (run.length + samples.length > run.buffer.length) {
      const grown = allocate(run.length + samples.length)
      grown.set(run.buffer.subarray(0, run.length))
      release(run.buffer)
      run.buffer = grown
    }
    run.buffer.set(samples, run.length)
    run.length += samples.length
  }

  private close(): void {
    const run = this.open
    if (run === undefined) return
    const closed = { offset: run.offset, samples: run.buffer.subarray(0, run.length) }
    this.runs.push(closed)
    this.buffers.set(closed, run.buffer)
    this.lastLength = run.length
    this.open = undefined
  }

  /** The runs waiting; they stay here until `written` or `drop`, and samples added later start new runs. */
  take(): ReadonlyArray<Run> {
    this.close()
    return this.runs.length === 0 ? [] : this.runs.slice()
  }

  /** `run` (from `take`) reached the disk: its buffer is free for other runs. */
  written(run: Run): void {
    const index = this.runs.indexOf(run)
    if (index === -1) return
    this.runs.splice(index, 1)
    this.count -= run.samples.length
    const buffer = this.buffers.get(run)
    this.buffers.delete(run)
    if (buffer !== undefined) release(buffer)
  }

  /** Gives up every run waiting; returns how many samples that was. */
  drop(): number {
    const samples = this.count
    for (const buffer of this.buffers.values()) forget(buffer)
    if (this.open !== undefined) forget(this.open.buffer)
    this.runs = []
    this.buffers.clear()
    this.open = undefined
    this.count = 0
    return samples
  }
}
