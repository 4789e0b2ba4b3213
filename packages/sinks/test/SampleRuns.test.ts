// The runs of samples waiting for a track's WAV: consecutive chunks are collected into one run (one write), held in
// blocks of the process's pool that go back to it once written.
import { assert, describe, it } from "vitest"
import * as BlockPool from "../src/internal/blockPool.js"
import { type Run, SampleRuns } from "../src/internal/sampleRuns.js"

// `length` samples counting up from `from`, in chunks of 1,600 (100 ms at 16 kHz)
const chunks = (from: number, length: number): Array<Int16Array> => {
  const out: Array<Int16Array> = []
  for (let at = 0; at < length; at += 1600) {
    out.push(Int16Array.from({ length: Math.min(1600, length - at) }, (_, i) => (from + at + i) % 32768))
  }
  return out
}

const addAll = (runs: SampleRuns, offset: number, parts: ReadonlyArray<Int16Array>) => {
  let at = offset
  for (const part of parts) {
    runs.add(at, part)
    at += part.length
  }
}

// a run's samples in one array
const samplesOf = (run: Run): Int16Array => {
  const out = new Int16Array(run.length)
  let at = 0
  for (const chunk of run.chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  assert.strictEqual(at, run.length)
  return out
}

const counting = (from: number, length: number) => Int16Array.from({ length }, (_, i) => (from + i) % 32768)

describe("SampleRuns", () => {
  it("collects consecutive chunks into one run, across blocks, and starts another where the audio jumps", () => {
    const runs = new SampleRuns()
    // 20,000 samples: more than two blocks of 8,192
    addAll(runs, 0, chunks(0, 20_000))
    addAll(runs, 30_000, chunks(30_000, 3200))
    assert.strictEqual(runs.pending, 23_200)
    const taken = runs.take()
    assert.deepStrictEqual(taken.map((run) => [run.offset, run.length, run.chunks.length]), [[0, 20_000, 3], [
      30_000,
      3200,
      1
    ]])
    assert.deepStrictEqual(samplesOf(taken[0]!), counting(0, 20_000))
    assert.deepStrictEqual(samplesOf(taken[1]!), counting(30_000, 3200))
    for (const run of taken) runs.written(run)
    assert.strictEqual(runs.pending, 0)
    assert.deepStrictEqual(runs.take(), [])
  })

  it("samples added while a run is being written start a new run, and the written run keeps its samples", () => {
    const runs = new SampleRuns()
    addAll(runs, 0, chunks(0, 8192))
    const [first] = runs.take()
    addAll(runs, 8192, chunks(8192, 4800))
    assert.deepStrictEqual(samplesOf(first!), counting(0, 8192))
    runs.written(first!)
    const [second] = runs.take()
    assert.deepStrictEqual([second!.offset, second!.length], [8192, 4800])
    assert.deepStrictEqual(samplesOf(second!), counting(8192, 4800))
    runs.written(second!)
  })

  it("gives every block back once written: a steady track takes no new memory", () => {
    const before = BlockPool.usage()
    const runs = new SampleRuns()
    let at = 0
    const cycle = () => {
      addAll(runs, at, chunks(at, 16_000))
      at += 16_000
      for (const run of runs.take()) runs.written(run)
    }
    cycle()
    const warm = BlockPool.usage()
    assert.strictEqual(warm.inUse, before.inUse, "blocks still in use after every run was written")
    for (let i = 0; i < 50; i++) cycle()
    const after = BlockPool.usage()
    assert.strictEqual(after.inUse, before.inUse)
    assert.strictEqual(after.free, warm.free, "the pool grew: blocks were allocated in steady state")
  })

  it("gives up what waits on drop, and counts it", () => {
    const before = BlockPool.usage().inUse
    const runs = new SampleRuns()
    addAll(runs, 0, chunks(0, 3200))
    runs.take()
    addAll(runs, 3200, chunks(3200, 1600))
    assert.strictEqual(runs.drop(), 4800)
    assert.strictEqual(runs.pending, 0)
    assert.deepStrictEqual(runs.take(), [])
    assert.strictEqual(BlockPool.usage().inUse, before)
  })
})
