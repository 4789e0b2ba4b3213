// The runs of samples waiting for a track's WAV: consecutive chunks are collected into one run (one write), and a
// run's buffer is sized after the track's last run, with room for a flush that comes late.
import { assert, describe, it } from "vitest"
import { SampleRuns } from "../src/internal/sampleRuns.js"

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

describe("SampleRuns", () => {
  it("collects consecutive chunks into one run, and starts another where the audio jumps", () => {
    const runs = new SampleRuns()
    addAll(runs, 0, chunks(0, 4800))
    addAll(runs, 8000, chunks(8000, 3200))
    assert.strictEqual(runs.pending, 8000)
    const taken = runs.take()
    assert.deepStrictEqual(taken.map((run) => [run.offset, run.samples.length]), [[0, 4800], [8000, 3200]])
    assert.deepStrictEqual(Array.from(taken[1]!.samples.subarray(0, 3)), [8000, 8001, 8002])
    assert.deepStrictEqual(Array.from(taken[0]!.samples.subarray(4797)), [4797, 4798, 4799])
    for (const run of taken) runs.written(run)
    assert.strictEqual(runs.pending, 0)
    assert.deepStrictEqual(runs.take(), [])
  })

  it("sizes a run for half as much again as the track's last one, so a later flush finds room", () => {
    const runs = new SampleRuns()
    // a second of 16 kHz audio between two flushes
    addAll(runs, 0, chunks(0, 16_000))
    const [first] = runs.take()
    runs.written(first!)
    // the next flush comes a little late: 16,100 samples
    addAll(runs, 16_000, chunks(16_000, 16_100))
    const [second] = runs.take()
    assert.strictEqual(second!.samples.length, 16_100)
    assert.strictEqual(second!.samples[16_099], (16_000 + 16_099) % 32768)
    // its buffer has room for 1.5 times the last run (24,000 samples), not just for what came
    assert.isAtLeast(second!.samples.buffer.byteLength / Int16Array.BYTES_PER_ELEMENT, 24_000)
    runs.written(second!)
  })

  it("gives up what waits on drop, and counts it", () => {
    const runs = new SampleRuns()
    addAll(runs, 0, chunks(0, 3200))
    runs.take()
    addAll(runs, 3200, chunks(3200, 1600))
    assert.strictEqual(runs.drop(), 4800)
    assert.strictEqual(runs.pending, 0)
    assert.deepStrictEqual(runs.take(), [])
  })
})
