import { Fixtures } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as AudioTimeline from "../src/AudioTimeline.js"
import { decode, person } from "./helpers.js"

const chunk = (at: number, seconds = 0.1, options: { readonly id?: number; readonly value?: number } = {}) =>
  decode(Fixtures.audio({
    at,
    samples: new Int16Array(Math.round(seconds * 16_000)).fill(options.value ?? 1),
    ...(options.id === undefined ? {} : { separate: true, participant: person(options.id) })
  }))

const run = (events: ReadonlyArray<AudioTimeline.Input>, options?: AudioTimeline.Options) => {
  let state = AudioTimeline.empty
  const writes: Array<AudioTimeline.Write> = []
  const reduce = AudioTimeline.reduceWith(options)
  for (const event of events) {
    state = reduce(state, event)
    writes.push(...state.writes)
  }
  return { state, writes: writes.map((w) => [w.track, w.offset, w.samples.length, w.samples[0]]) }
}

describe("AudioTimeline", () => {
  it("places chunks by timestamp.relative and leaves gaps to the writer", () => {
    const { state, writes } = run([chunk(0), chunk(0.1), chunk(20.2)])
    assert.deepStrictEqual(writes, [["mixed", 0, 1600, 1], ["mixed", 1600, 1600, 1], ["mixed", 323_200, 1600, 1]])
    assert.strictEqual(AudioTimeline.durations(state).mixed, 20.3)
  })

  it("drops audio stamped past maxSeconds instead of growing the track by that much silence", () => {
    const { state, writes } = run([chunk(0), chunk(1_000_000), chunk(0.1)])
    assert.deepStrictEqual(writes, [["mixed", 0, 1600, 1], ["mixed", 1600, 1600, 1]])
    assert.strictEqual(AudioTimeline.durations(state).mixed, 0.2)
    assert.strictEqual(state.tracks.mixed!.droppedSamples, 1600)
    // a limit of its own: a chunk that would end past it is dropped whole
    assert.strictEqual(run([chunk(9.95)], { maxSeconds: 10 }).writes.length, 0)
    assert.strictEqual(run([chunk(9.9)], { maxSeconds: 10 }).writes.length, 1)
  })

  it("never writes a sample twice: duplicates and overlaps", () => {
    const { state, writes } = run([chunk(0), chunk(0), chunk(0.1), chunk(0.15, 0.1, { value: 2 })])
    assert.deepStrictEqual(writes, [["mixed", 0, 1600, 1], ["mixed", 1600, 1600, 1], ["mixed", 3200, 800, 2]])
    assert.strictEqual(state.tracks.mixed!.repeatedSamples, 1600 + 800)
  })

  it("lands a late chunk within the window at its place, drops what is older", () => {
    const { state, writes } = run([chunk(0), chunk(0.2), chunk(0.1), chunk(10), chunk(1), chunk(7)], { window: 5 })
    assert.deepStrictEqual(writes, [
      ["mixed", 0, 1600, 1],
      ["mixed", 3200, 1600, 1],
      ["mixed", 1600, 1600, 1], // late, into the silence left for it
      ["mixed", 160_000, 1600, 1],
      ["mixed", 112_000, 1600, 1] // 7 s is within 5 s of the frontier (10.1 s); 1 s is not
    ])
    assert.strictEqual(state.tracks.mixed!.droppedSamples, 1600)
    assert.strictEqual(state.tracks.mixed!.late, 2)
  })

  it("keeps one track per participant, all on the meeting clock, and snaps jitter", () => {
    const { writes } = run([chunk(3, 0.1, { id: 200 }), chunk(3.1 + 0.0005, 0.1, { id: 200 }), chunk(0.5)])
    assert.deepStrictEqual(writes, [["200", 48_000, 1600, 1], ["200", 49_600, 1600, 1], ["mixed", 8000, 1600, 1]])
  })

  it("continues a resumed track after what the file holds", () => {
    const [track, writes] = AudioTimeline.place(AudioTimeline.resumed(3200), "mixed", 1600, new Int16Array(3200))
    assert.deepStrictEqual(writes.map((w) => [w.offset, w.samples.length]), [[3200, 1600]])
    assert.strictEqual(track.frontier, 4800)
  })

  it("skips empty and invalid buffers, and works as a Sink", () =>
    Effect.gen(function*() {
      const empty = decode(Fixtures.audio({ at: 1, buffer: "", separate: true, participant: person(100) }))
      const odd = decode(Fixtures.audio({ at: 1, buffer: "AAAB" }))
      const state = yield* Stream.run(Stream.fromIterable([empty, odd, chunk(0.5)]), AudioTimeline.sink())
      assert.strictEqual(state.tracks["100"]!.frontier, 0)
      assert.strictEqual(state.tracks.mixed!.invalid, 1)
      assert.strictEqual(AudioTimeline.durations(state).mixed, 0.6)
    }).pipe(Effect.runPromise))
})
