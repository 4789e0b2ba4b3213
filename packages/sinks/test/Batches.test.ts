// The reducers applied in batches (reduceAll, and the recorder's per-session state, which adds what messages
// change only when it is read) give exactly what folding the per-event reducers gives.
import { Decoder, Fixtures, SessionEvent, SessionKey } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as AudioTimeline from "../src/AudioTimeline.js"
import * as SessionState from "../src/internal/sessionState.js"
import * as Participants from "../src/Participants.js"
import * as SessionSummary from "../src/SessionSummary.js"
import * as Transcript from "../src/Transcript.js"
import { decode, person } from "./helpers.js"

const key = SessionKey.make("bot-1")

const message = (wire: unknown): SessionEvent.SessionEvent =>
  SessionEvent.message(key, decode(wire), 1_000, { raw: JSON.stringify(wire) })

// unknown names: a few, many distinct (past the limit of listed names), names of Object.prototype, too long ones
const unknownName = FastCheck.oneof(
  FastCheck.constantFrom(
    "bot.status_change",
    "__proto__",
    "constructor",
    "x".repeat(SessionSummary.NAME_LENGTH_LIMIT + 1)
  ),
  FastCheck.integer({ min: 0, max: 150 }).map((i) => `custom.${i}`)
)

const at = FastCheck.integer({ min: 0, max: 40 }).map((tenths) => tenths / 10)

const audio = FastCheck.record({
  at,
  // jitter of a few samples, so chunks overlap, snap onto the frontier or leave gaps
  jitter: FastCheck.integer({ min: -20, max: 20 }),
  length: FastCheck.constantFrom(0, 160, 1600, 3200),
  track: FastCheck.constantFrom<"mixed" | 100 | 200>("mixed", 100, 200),
  invalid: FastCheck.boolean()
}).map(({ at, invalid, jitter, length, track }) =>
  Fixtures.audio({
    at: Math.max(0, at + jitter / 16_000),
    separate: track !== "mixed",
    participant: track === "mixed" ? undefined : person(track),
    ...(invalid && length > 0 ? { buffer: "AAA" } : { samples: Int16Array.from({ length }, (_, i) => (i % 50) + 1) })
  })
)

const wireOf = (unknownWeight: number) =>
  FastCheck.oneof(
    { weight: 6, arbitrary: audio },
    {
      weight: 1,
      arbitrary: at.map((t) =>
        Fixtures.participantEvent("participant_events.speech_on", { participant: person(100), at: t })
      )
    },
    {
      weight: 1,
      arbitrary: at.map((t) =>
        Fixtures.participantEvent("participant_events.speech_off", { participant: person(100), at: t })
      )
    },
    {
      weight: 1,
      arbitrary: at.map((t) =>
        Fixtures.participantEvent("participant_events.join", { participant: person(200), at: t })
      )
    },
    { weight: 1, arbitrary: at.map((t) => Fixtures.transcript("hello there", { participant: person(100), at: t })) },
    {
      weight: 1,
      arbitrary: at.map((t) => Fixtures.transcript("hel", { participant: person(200), at: t, final: false }))
    },
    {
      weight: unknownWeight,
      arbitrary: unknownName.map((name) => ({
        event: name,
        data: { bot: { id: key }, recording: { id: "r" }, data: {} }
      }))
    }
  ).map(message)

const control: FastCheck.Arbitrary<SessionEvent.SessionEvent> = FastCheck.oneof(
  FastCheck.constant(
    new SessionEvent.SessionStarted({ session: key, at: 1_000, botId: key, recordingId: null, metadata: null })
  ),
  FastCheck.constant(
    new SessionEvent.ConnectionOpened({ session: key, at: 1_000, connectionId: "c1" })
  ),
  FastCheck.constant(
    new SessionEvent.ConnectionClosed({ session: key, at: 1_500, connectionId: "c1", code: 1006, reason: "" })
  ),
  at.map((t) => new SessionEvent.Gap({ session: key, at: 1_500, from: t, to: t + 1 })),
  FastCheck.constant(new SessionEvent.Dropped({ session: key, at: 1_500, kind: "audio", count: 3, from: 1, to: 2 })),
  FastCheck.constant(
    new SessionEvent.DecodeFailed({
      session: key,
      at: 1_500,
      error: new Decoder.DecodeError({ reason: "InvalidJson", path: "", issue: "Unexpected end", bytes: 7 })
    })
  )
)

const itemsOf = (minLength: number, maxLength: number, unknownWeight: number) =>
  FastCheck.array(FastCheck.oneof({ weight: 8, arbitrary: wireOf(unknownWeight) }, { weight: 1, arbitrary: control }), {
    minLength,
    maxLength
  })

const items = itemsOf(0, 120, 2)
// mostly unknown events of many names: past the limit of listed names, in one batch
const unknownFlood = itemsOf(300, 600, 60)

/** The items cut into consecutive batches at the given points. */
const batches = <A>(all: ReadonlyArray<A>, cuts: ReadonlyArray<number>): Array<ReadonlyArray<A>> => {
  const points = [...new Set(cuts.map((cut) => cut % (all.length + 1)))].sort((a, b) => a - b)
  const out: Array<ReadonlyArray<A>> = []
  let from = 0
  for (const point of [...points, all.length]) {
    out.push(all.slice(from, point))
    from = point
  }
  return out
}

const cuts = FastCheck.array(FastCheck.nat(), { maxLength: 6 })

// a small window and a short maxAhead, so late, dropped and held-back chunks all happen
const options: AudioTimeline.Options = { window: 1, maxAhead: 2 }

// the placement of a chunk worked out the plain way (the free spans of the chunk, each added to the ranges, the
// ranges that end behind the window dropped): the model `AudioTimeline.place`, with its shortcut for chunks at or after the
// frontier, is held to
const modelPlace = (
  track: AudioTimeline.Track,
  offset: number,
  samples: Int16Array,
  window: number
): readonly [AudioTimeline.Track, Array<[number, Array<number>]>] => {
  const n = samples.length
  if (n === 0) return [{ ...track, chunks: track.chunks + 1 }, []]
  const at = offset !== track.frontier && Math.abs(offset - track.frontier) <= 16 ? track.frontier : offset
  const end = at + n
  const from = Math.max(at, Math.max(0, track.frontier - window))
  // sample by sample: which of [from, end) are covered already
  const held = new Set<number>()
  for (const [s, e] of track.covered) for (let i = s; i < e; i++) held.add(i)
  const writes: Array<[number, Array<number>]> = []
  let repeated = 0
  for (let i = from; i < end; i++) {
    if (held.has(i)) {
      repeated++
      continue
    }
    const last = writes[writes.length - 1]
    if (last !== undefined && last[0] + last[1].length === i) last[1].push(samples[i - at]!)
    else writes.push([i, [samples[i - at]!]])
    held.add(i)
  }
  const frontier = Math.max(track.frontier, end)
  const covered: Array<readonly [number, number]> = []
  for (const i of [...held].sort((a, b) => a - b)) {
    const last = covered[covered.length - 1]
    if (last !== undefined && last[1] === i) covered[covered.length - 1] = [last[0], i + 1]
    else covered.push([i, i + 1])
  }
  return [{
    ...track,
    frontier,
    covered: covered.filter(([, e]) => e > frontier - window),
    chunks: track.chunks + 1,
    late: track.late + (at < track.frontier && writes.length > 0 ? 1 : 0),
    repeatedSamples: track.repeatedSamples + repeated,
    droppedSamples: track.droppedSamples + Math.min(n, from - at)
  }, writes]
}

describe("reducers applied in batches", () => {
  it("property: AudioTimeline.place equals placing a chunk sample by sample", () => {
    const window = 400
    const chunk = FastCheck.record({
      // around the frontier: before it, at it, just after it (snapped), further on
      start: FastCheck.integer({ min: -500, max: 300 }),
      length: FastCheck.integer({ min: 0, max: 250 })
    })
    FastCheck.assert(
      FastCheck.property(FastCheck.array(chunk, { minLength: 1, maxLength: 30 }), (chunks) => {
        let track = AudioTimeline.emptyTrack
        let model = AudioTimeline.emptyTrack
        for (const { length, start } of chunks) {
          const offset = Math.max(0, track.frontier + start)
          const samples = Int16Array.from({ length }, (_, i) => offset + i)
          const [next, writes] = AudioTimeline.place(track, "mixed", offset, samples, { window: window / 16_000 })
          const [expected, expectedWrites] = modelPlace(model, offset, samples, window)
          assert.deepStrictEqual(writes.map((w) => [w.offset, Array.from(w.samples)]), expectedWrites)
          assert.deepStrictEqual(next, expected)
          track = next
          model = expected
        }
      }),
      { numRuns: 500 }
    )
  })

  it("property: SessionSummary.reduceAll equals folding reduce, batch by batch, names and their order included", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.oneof(items, unknownFlood), cuts, (all, points) => {
        const folded = all.reduce(SessionSummary.reduce, SessionSummary.empty(key))
        const batched = batches(all, points).reduce(SessionSummary.reduceAll, SessionSummary.empty(key))
        assert.deepStrictEqual(batched, folded)
        // the same file: records keep the order names first came in
        assert.strictEqual(JSON.stringify(batched), JSON.stringify(folded))
      }),
      { numRuns: 200 }
    )
  })

  it("property: AudioTimeline.reduceAll equals folding reduce, batch by batch", () => {
    FastCheck.assert(
      FastCheck.property(items, cuts, (all, points) => {
        const reduce = AudioTimeline.reduceWith(options)
        const folded = all.reduce(reduce, AudioTimeline.empty)
        const batched = batches(all, points).reduce(AudioTimeline.reduceAllWith(options), AudioTimeline.empty)
        assert.deepStrictEqual(batched.tracks, folded.tracks)
        // writes: the last item's, as after folding
        assert.deepStrictEqual(batched.writes, folded.writes)
      }),
      { numRuns: 300 }
    )
  })

  it("property: a recorder's session state, read at any points, equals the reducers folded over the same events", () => {
    FastCheck.assert(
      FastCheck.property(items, cuts, (all, points) => {
        const state = new SessionState.SessionState(SessionState.empty(key), options)
        const written: Array<AudioTimeline.Write> = []
        const out: SessionState.Output = {
          message: () => {},
          control: () => {},
          frame: () => {},
          problem: () => {},
          samples: (write) => written.push(write)
        }
        let summary = SessionSummary.empty(key)
        let transcript = Transcript.empty
        let participants = Participants.empty
        let timeline = AudioTimeline.empty
        const expected: Array<AudioTimeline.Write> = []
        const reduceAudio = AudioTimeline.reduceWith(options)
        for (const batch of batches(all, points)) {
          for (const item of batch) {
            state.apply(item, 2_000, out)
            summary = SessionSummary.reduce(summary, item)
            participants = Participants.reduce(participants, item)
            if (item._tag === "Message") {
              transcript = Transcript.reduce(transcript, item)
              timeline = reduceAudio(timeline, item)
              expected.push(...timeline.writes)
            }
          }
          const snapshot = state.snapshot
          assert.deepStrictEqual(snapshot.summary, summary)
          assert.strictEqual(JSON.stringify(snapshot.summary), JSON.stringify(summary))
          assert.deepStrictEqual(snapshot.transcript, transcript)
          assert.deepStrictEqual(snapshot.participants, participants)
          assert.deepStrictEqual(snapshot.timeline.tracks, timeline.tracks)
          assert.deepStrictEqual(written, expected)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("a snapshot read twice with nothing applied in between is the same object, so a flush can tell nothing changed", () => {
    const state = new SessionState.SessionState(SessionState.empty(key), undefined)
    const out: SessionState.Output = {
      message: () => {},
      control: () => {},
      frame: () => {},
      problem: () => {},
      samples: () => {}
    }
    state.apply(message(Fixtures.audio({ at: 0 })), 0, out)
    const first = state.snapshot
    assert.strictEqual(state.snapshot, first)
    assert.strictEqual(first.summary.counts.messages, 1)
    state.apply(message(Fixtures.audio({ at: 0.1 })), 0, out)
    assert.notStrictEqual(state.snapshot, first)
    assert.strictEqual(state.snapshot.summary.counts.messages, 2)
    assert.strictEqual(first.summary.counts.messages, 1, "a snapshot handed out never changes")
    assert.strictEqual(first.timeline.tracks.mixed!.frontier, 1600)
  })
})
