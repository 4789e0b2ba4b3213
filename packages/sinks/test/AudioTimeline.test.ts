import { EventSource, Fixtures } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import * as AudioTimeline from "../src/AudioTimeline.js"
import * as SessionRecorder from "../src/SessionRecorder.js"
import { decode, person } from "./helpers.js"
import { json, tempDir } from "./recording.js"

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

describe("AudioTimeline and audio far ahead of the session", () => {
  const MINUTE = 60

  it("refuses a lone chunk that would open more than 10 minutes of silence, and counts it as dropped", () => {
    const { state, writes } = run([chunk(0), chunk(23 * 3600 + 59 * MINUTE), chunk(0.1), chunk(0.2)])
    assert.deepStrictEqual(writes, [["mixed", 0, 1600, 1], ["mixed", 1600, 1600, 1], ["mixed", 3200, 1600, 1]])
    assert.strictEqual(AudioTimeline.durations(state).mixed, 0.3)
    assert.strictEqual(state.tracks.mixed!.droppedSamples, 1600)
    assert.strictEqual(state.tracks.mixed!.chunks, 4)
    // 10 minutes is the default; a chunk just within it lands
    assert.strictEqual(run([chunk(0), chunk(0.1 + 10 * MINUTE)]).writes.length, 2)
    assert.strictEqual(run([chunk(0), chunk(0.1 + 10 * MINUTE + 0.01)]).writes.length, 1)
    // a bound of one's own
    assert.strictEqual(run([chunk(0), chunk(70)], { maxAhead: 60 }).writes.length, 1)
    assert.strictEqual(run([chunk(0), chunk(50)], { maxAhead: 60 }).writes.length, 2)
  })

  it("lands a participant who first unmutes 40 minutes in at once: the bound counts from any track's audio", () => {
    // the mixed track runs all meeting (here a chunk every 9 minutes is enough to carry its frontier)
    const mixed = [0, 9, 18, 27, 36, 40].map((m) => chunk(m * MINUTE))
    const { state, writes } = run([...mixed, chunk(40 * MINUTE + 0.05, 0.1, { id: 200 })])
    assert.deepStrictEqual(writes.at(-1), ["200", 40 * MINUTE * 16_000 + 800, 1600, 1])
    assert.strictEqual(state.tracks["200"]!.droppedSamples, 0)
    assert.strictEqual(state.tracks["200"]!.frontier, (40 * MINUTE + 0.15) * 16_000)
  })

  it("lands a stream far ahead once it goes on: a receiver that joins late loses nothing", () => {
    const at = 40 * MINUTE
    const { state, writes } = run([chunk(at, 0.1, { id: 200 }), chunk(at + 0.1, 0.1, { id: 200, value: 2 })])
    assert.deepStrictEqual(writes, [["200", at * 16_000, 1600, 1], ["200", at * 16_000 + 1600, 1600, 2]])
    const track = state.tracks["200"]!
    assert.strictEqual(track.droppedSamples, 0)
    assert.strictEqual(track.chunks, 2)
    assert.isUndefined(track.ahead)
  })

  it("does not take a repeat of a chunk far ahead, or a chunk elsewhere, as its stream going on", () => {
    const far = 5 * 3600
    const { state, writes } = run([chunk(0), chunk(far), chunk(far), chunk(far + 30), chunk(0.1)])
    assert.deepStrictEqual(writes, [["mixed", 0, 1600, 1], ["mixed", 1600, 1600, 1]])
    assert.strictEqual(state.tracks.mixed!.droppedSamples, 3 * 1600)
    assert.strictEqual(AudioTimeline.durations(state).mixed, 0.2)
  })

  it("keeps the 24 h cap for a stream that goes on", () => {
    const { state, writes } = run([chunk(30 * 3600), chunk(30 * 3600 + 0.1)])
    assert.deepStrictEqual(writes, [])
    assert.strictEqual(state.tracks.mixed!.droppedSamples, 3200)
  })
})

describe("the recorder with audio far ahead", () => {
  it("writes no hours of silence for one bad timestamp, and session.json counts the refused samples", async () => {
    const out = tempDir()
    const events = [chunk(0), chunk(23 * 3600 + 59 * 60), chunk(0.1), chunk(0.2, 0.1, { id: 100 })]
    await SessionRecorder.run({ directory: out }).pipe(
      Effect.provide(Layer.mergeAll(EventSource.fromIterable(events), NodeContext.layer)),
      Effect.runPromise
    )
    const dir = path.join(out, Fixtures.BOT_ID)
    assert.strictEqual(fs.statSync(path.join(dir, "audio", "mixed.wav")).size, 44 + 2 * 3200)
    const session = json(path.join(dir, "session.json"))
    assert.strictEqual(session.audio.mixed.droppedSamples, 1600)
    assert.strictEqual(session.audio.mixed.seconds, 0.2)
    assert.strictEqual(session.audio["100"].droppedSamples, 0)
  })
})
