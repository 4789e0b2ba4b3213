import { Fixtures } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as HashSet from "effect/HashSet"
import * as Stream from "effect/Stream"
import * as Transcript from "../src/Transcript.js"
import { decode, pe, person, said } from "./helpers.js"

const fold = (events: ReadonlyArray<Transcript.Input>) => events.reduce(Transcript.reduce, Transcript.empty)

describe("Transcript", () => {
  it("shows a partial as the live tail and replaces it by the final", () => {
    const partial = fold([said("we shipped", 100, 2, { final: false })])
    assert.deepStrictEqual(Transcript.utterances(partial, { live: true }).map((u) => u.text), ["we shipped"])
    assert.strictEqual(Transcript.utterances(partial).length, 0)
    const grown = Transcript.reduce(partial, said("we shipped the", 100, 2, { final: false }))
    assert.deepStrictEqual(grown.partials.map((u) => u.text), ["we shipped the"])
    const final = Transcript.reduce(grown, said("we shipped the parser", 100, 2))
    assert.deepStrictEqual(Transcript.utterances(final, { live: true }).map((u) => u.text), ["we shipped the parser"])
    assert.strictEqual(final.partials.length, 0)
    // a partial of the utterance that arrives after its final does not come back
    assert.strictEqual(Transcript.reduce(final, said("we shipped the", 100, 2, { final: false })), final)
  })

  it("keeps one partial per speaker", () => {
    const state = fold([said("hello", 100, 2, { final: false }), said("hi there", 200, 1, { final: false })])
    assert.deepStrictEqual(state.partials.map((u) => u.speaker), ["200", "100"])
  })

  it("orders finals by start time and ignores repeats", () => {
    const late = said("second", 200, 5)
    const state = fold([said("third", 100, 9), late, said("first", 300, 1), late, said("third", 100, 9)])
    assert.deepStrictEqual(state.finals.map((u) => u.text), ["first", "second", "third"])
    assert.strictEqual(Transcript.reduce(state, late), state)
    // an id reads as speaker-start(ms)-digest of the words and their times
    assert.deepStrictEqual(state.finals.map((u) => u.id.replace(/-[0-9a-f]{16}$/, "")), [
      "300-1000",
      "200-5000",
      "100-9000"
    ])
  })

  it("keys by participant id and back-fills a name that arrives later", () => {
    const anonymous = person(300, null)
    const before = fold([said("dialing in", 300, 1, { who: anonymous }), said("me too", 100, 3)])
    assert.strictEqual(Transcript.toText(before), "[00:01] Participant 300: dialing in\n[00:03] P100: me too\n")
    const after = Transcript.reduce(before, pe("participant_events.update", 300, 4, person(300, "Dial-in Dan")))
    assert.strictEqual(Transcript.toText(after), "[00:01] Dial-in Dan: dialing in\n[00:03] P100: me too\n")
    // the same name on two ids stays two speakers
    const twins = fold([said("a", 1, 1, { who: person(1, "Sam") }), said("b", 2, 2, { who: person(2, "Sam") })])
    assert.deepStrictEqual(twins.finals.map((u) => u.speaker), ["1", "2"])
  })

  it("accepts words without timestamps", () => {
    const wire = Fixtures.transcript("no times here", { participant: person(100), at: 0 }) as any
    for (const word of wire.data.data.words) {
      word.start_timestamp = null
      word.end_timestamp = null
    }
    const state = fold([said("before", 200, 4), decode(wire)])
    assert.deepStrictEqual(state.finals.map((u) => [u.text, u.start]), [["before", 4], ["no times here", 4]])
  })

  it("exports text, SRT, WebVTT with voice tags and JSON", () => {
    const state = fold([said("we shipped", 100, 62.5, { duration: 1.25 }), said("a <b> & c", 300, 3725.004)])
    assert.strictEqual(Transcript.toText(state), "[01:02] P100: we shipped\n[62:05] P300: a <b> & c\n")
    assert.strictEqual(
      Transcript.toSrt(state),
      "1\n00:01:02,500 --> 00:01:03,750\nP100: we shipped\n\n2\n01:02:05,004 --> 01:02:06,604\nP300: a <b> & c\n\n"
    )
    assert.strictEqual(
      Transcript.toVtt(state),
      "WEBVTT\n\n00:01:02.500 --> 00:01:03.750\n<v P100>we shipped\n\n" +
        "01:02:05.004 --> 01:02:06.604\n<v P300>a &lt;b&gt; &amp; c\n\n"
    )
    const json = JSON.parse(JSON.stringify(Transcript.toJson(state)))
    const restored = Transcript.fromJson(json)
    assert.isTrue(Either.isRight(restored))
    if (Either.isRight(restored)) {
      assert.deepStrictEqual(restored.right.finals, state.finals)
      assert.strictEqual(Transcript.toText(restored.right), Transcript.toText(state))
    }
  })

  it("works as a Sink and as a Stream.scan step", () =>
    Effect.gen(function*() {
      const events = [said("one", 100, 1, { final: false }), said("one two", 100, 1), said("three", 200, 3)]
      const final = yield* Stream.run(Stream.fromIterable(events), Transcript.sink)
      assert.deepStrictEqual(final.finals.map((u) => u.text), ["one two", "three"])
      const snapshots = yield* Stream.fromIterable(events).pipe(
        Stream.scan(Transcript.empty, Transcript.reduce),
        Stream.map((state) => Transcript.utterances(state, { live: true }).length),
        Stream.runCollect
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(snapshots), [0, 1, 1, 2])
    }).pipe(Effect.runPromise))
})

/** A word as the wire gives it: times in seconds, null when Recall sent none. */
type WireWord = readonly [text: string, start: number | null, end: number | null]

const finalOf = (id: number | null, words: ReadonlyArray<WireWord>, options: { readonly final?: boolean } = {}) => {
  const wire = Fixtures.transcript("x", { participant: person(id), final: options.final ?? true }) as any
  wire.data.data.words = words.map(([text, start, end]) => ({
    text,
    start_timestamp: start === null ? null : { relative: start },
    end_timestamp: end === null ? null : { relative: end }
  }))
  return decode(wire)
}

const untimed = (id: number, text: string, options: { readonly final?: boolean } = {}) =>
  finalOf(id, text.split(" ").map((word): WireWord => [word, null, null]), options)

const texts = (state: Transcript.Transcript) => state.finals.map((u) => `${u.speaker}: ${u.text}`)

describe("Transcript never loses a distinct final", () => {
  it("keeps a different final of the same speaker that starts at the same time, and ignores a true repeat", () => {
    const first = finalOf(100, [["we", 5, 5.2], ["shipped", 5.2, 5.6]])
    const other = finalOf(100, [["we", 5, 5.2], ["slipped", 5.2, 5.6]])
    const sameWordsOtherTimes = finalOf(100, [["we", 5, 5.3], ["shipped", 5.3, 5.6]])
    const state = fold([first, other, first, sameWordsOtherTimes, other])
    assert.deepStrictEqual(texts(state), ["100: we shipped", "100: we slipped", "100: we shipped"])
    assert.strictEqual(new Set(state.finals.map((u) => u.id)).size, 3)
    assert.strictEqual(Transcript.reduce(state, first), state, "a repeat changes nothing")
  })

  it("keeps finals without word timestamps, placed by arrival; only a true repeat of one is ignored", () => {
    const state = fold([
      said("good morning", 200, 1),
      untimed(100, "can you hear me"),
      untimed(100, "hello"),
      untimed(100, "hello"), // the same speaker, words and (absent) times: a repeat
      untimed(200, "hello"),
      said("let us start", 100, 12),
      said("early bird", 300, 0.5) // late, but it started first
    ])
    assert.deepStrictEqual(texts(state), [
      "300: early bird",
      "200: good morning",
      "100: can you hear me",
      "100: hello",
      "200: hello",
      "100: let us start"
    ])
    // each untimed final sits at the latest start known when it came
    assert.deepStrictEqual(state.finals.filter((u) => u.id.includes("-untimed-")).map((u) => u.start), [1, 1, 1])
  })

  it("restores finals from transcript.json, old ids included, and a replay after the restart adds nothing", () => {
    const events = [
      said("one", 100, 1),
      finalOf(100, [["two", 1, 1.5]]),
      untimed(200, "three"),
      said("four", 300, 4)
    ]
    const state = fold(events)
    assert.strictEqual(state.finals.length, 4)
    const saved = JSON.parse(JSON.stringify(Transcript.toJson(state)))
    // a transcript.json written before ids covered the words: speaker-start only, twice the same here
    const old = { ...saved, utterances: saved.utterances.map((u: any) => ({ ...u, id: `${u.speaker}-${u.start}` })) }
    for (const json of [saved, old]) {
      const restored = Either.getOrThrow(Transcript.fromJson(json))
      assert.deepStrictEqual(restored.finals, state.finals)
      assert.strictEqual(Transcript.toText(restored), Transcript.toText(state))
      assert.deepStrictEqual(texts(events.reduce(Transcript.reduce, restored)), texts(state))
      assert.deepStrictEqual(texts(Transcript.merge(restored, state.finals)), texts(state))
    }
  })

  it("supersedes partials by their final, timed or not", () => {
    const live = fold([untimed(100, "can you", { final: false })])
    assert.deepStrictEqual(live.partials.map((u) => u.text), ["can you"])
    const final = Transcript.reduce(live, untimed(100, "can you hear me"))
    assert.strictEqual(final.partials.length, 0)
    // the next untimed utterance of that speaker shows its live tail again
    const next = Transcript.reduce(final, untimed(100, "good", { final: false }))
    assert.deepStrictEqual(next.partials.map((u) => u.text), ["good"])
    // a timed partial that comes after its final stays gone
    const timed = fold([said("we shipped the parser", 100, 2), said("we shipped", 100, 2, { final: false })])
    assert.strictEqual(timed.partials.length, 0)
  })

  it("property: finals with repeats, in any order, give each distinct final exactly once, by start", () => {
    const word = FastCheck.record({
      text: FastCheck.constantFrom("yes", "no", "maybe", "ok"),
      // few times, so that finals often share a start
      start: FastCheck.option(FastCheck.constantFrom(0, 1, 2.5, 4), { nil: null }),
      length: FastCheck.constantFrom(0, 0.25)
    })
    const utterance = FastCheck.record({
      speaker: FastCheck.constantFrom<number | null>(100, 200, null),
      words: FastCheck.array(word, { minLength: 1, maxLength: 3 })
    }).map(({ speaker, words }) => ({
      speaker,
      words: words.map((w): WireWord => [w.text, w.start, w.start === null ? null : w.start + w.length])
    }))
    const distinct = FastCheck.uniqueArray(utterance, {
      minLength: 1,
      maxLength: 12,
      selector: (u) => JSON.stringify(u)
    })
    const scenario = distinct.chain((finals) =>
      FastCheck.tuple(
        FastCheck.constant(finals),
        FastCheck.array(FastCheck.integer({ min: 0, max: finals.length - 1 }), { maxLength: 20 }),
        FastCheck.nat()
      )
    )
    FastCheck.assert(
      FastCheck.property(scenario, ([finals, repeats, seed]) => {
        // every final at least once, some again, then shuffled
        const sent = [...finals.keys(), ...repeats]
        let s = seed
        for (let i = sent.length - 1; i > 0; i--) {
          s = (s * 1103515245 + 12345) % 2147483648
          const j = s % (i + 1)
          ;[sent[i], sent[j]] = [sent[j]!, sent[i]!]
        }
        const state = fold(sent.map((i) => finalOf(finals[i]!.speaker, finals[i]!.words)))
        const key = (u: { readonly speaker: string; readonly words: ReadonlyArray<Transcript.Word> }) =>
          JSON.stringify([u.speaker, u.words.map((w) => [w.text, w.start, w.end])])
        const expected = finals.map((f) =>
          key({
            speaker: f.speaker === null ? "unknown" : String(f.speaker),
            words: f.words.map(([text, start, end]) => ({ text, start, end }))
          })
        )
        assert.sameMembers(state.finals.map(key), expected)
        assert.strictEqual(state.finals.length, finals.length)
        assert.strictEqual(HashSet.size(state.ids), finals.length)
        const starts = state.finals.map((u) => u.start)
        assert.deepStrictEqual(starts, [...starts].sort((a, b) => a - b), "in meeting order")
        // and a restart from what was saved holds the same, and a second delivery adds nothing
        const restored = Either.getOrThrow(Transcript.fromJson(JSON.parse(JSON.stringify(Transcript.toJson(state)))))
        assert.deepStrictEqual(Transcript.utterances(restored), Transcript.utterances(state))
        assert.strictEqual(
          sent.map((i) => finalOf(finals[i]!.speaker, finals[i]!.words)).reduce(
            Transcript.reduce,
            restored
          ).finals.length,
          finals.length
        )
      }),
      { numRuns: 300 }
    )
  })
})

describe("Transcript.settle", () => {
  const timed = (id: number, text: string, start: number) =>
    finalOf(id, text.split(" ").map((word, i): WireWord => [word, start + i * 0.25, start + i * 0.25 + 0.2]))

  it("moves older finals out, keeps the latest and the ids, and puts them back in meeting order", () => {
    const state = fold([timed(1, "one", 1), timed(2, "two", 2), timed(1, "three", 3)])
    const { settled, state: left } = Transcript.settle(state, 2.5)
    assert.deepStrictEqual(settled.map((u) => u.text), ["one", "two"])
    assert.deepStrictEqual(texts(left), ["1: three"])
    // the latest final stays, whatever `before` says
    assert.deepStrictEqual(texts(Transcript.settle(left, 100).state), ["1: three"])
    // a repeat of a final moved out changes nothing; a late final that starts before them is held and put in place
    assert.strictEqual(Transcript.reduce(left, timed(2, "two", 2)), left)
    const late = Transcript.reduce(left, timed(3, "zero", 0))
    assert.deepStrictEqual(texts(Transcript.withSettled(late, settled)), ["3: zero", "1: one", "2: two", "1: three"])
  })

  it("recognizes a repeat of any final moved out one settle at a time over a long meeting", () => {
    let state = Transcript.empty
    const sent: Array<ReturnType<typeof timed>> = []
    for (let i = 0; i < 300; i++) {
      const event = timed(100 + (i % 3), `word${i} more`, i * 2)
      sent.push(event)
      state = Transcript.settle(Transcript.reduce(state, event), i * 2 - 10).state
    }
    assert.strictEqual(state.settledIds?.length, 294)
    for (const event of sent) assert.strictEqual(Transcript.reduce(state, event), state)
  })

  it("does not show a late partial of an utterance already final, held, moved out, or restored from its file", () => {
    // speaker 1 says three things; speaker 2 talks all along, one long utterance still open
    const longOne = said("and so on", 2, 1, { final: false, duration: 30 })
    // (and speaker 3 said one thing early)
    let state = fold([longOne, said("early", 3, 1), said("one", 1, 2), said("two", 1, 4), said("three", 1, 20)])
    const lateOf = (start: number) => said("late words", 1, start, { final: false })
    // late: at the start of a final, and of an earlier utterance of the same speaker
    assert.strictEqual(Transcript.reduce(state, lateOf(4)), state)
    assert.strictEqual(Transcript.reduce(state, lateOf(2)), state)
    // the next utterance's partial is shown, as is the other speaker's long one that started before them all
    assert.deepStrictEqual(Transcript.reduce(state, lateOf(21)).partials.map((u) => u.text), [
      "and so on",
      "late words"
    ])
    assert.deepStrictEqual(state.partials.map((u) => u.speaker), ["2"])
    // moved out of memory: the same
    const moved = Transcript.settle(state, 10)
    assert.deepStrictEqual(moved.settled.map((u) => u.text), ["early", "one", "two"])
    state = moved.state
    assert.strictEqual(Transcript.reduce(state, lateOf(4)), state)
    // restored as a recorder restores: the finals held from the checkpoint, those moved out from their file
    const restored = Transcript.holdSettled(Transcript.merge(Transcript.empty, state.finals), moved.settled)
    assert.strictEqual(Transcript.reduce(restored, lateOf(2)), restored)
    // speaker 3's only final is on disk: its late partial is still known for one
    assert.deepStrictEqual(Transcript.reduce(restored, said("ear", 3, 1, { final: false })).partials, [])
    assert.deepStrictEqual(Transcript.reduce(restored, lateOf(21)).partials.map((u) => u.text), ["late words"])
  })

  it("property: settling at any points and putting back gives the transcript of the same finals never settled", () => {
    const word = FastCheck.record({
      text: FastCheck.constantFrom("yes", "no", "ok"),
      start: FastCheck.option(FastCheck.constantFrom(0, 1, 2.5, 4, 6), { nil: null })
    })
    const utterance = FastCheck.record({
      speaker: FastCheck.constantFrom<number | null>(100, 200, null),
      words: FastCheck.array(word, { minLength: 1, maxLength: 3 })
    }).map(({ speaker, words }) =>
      finalOf(speaker, words.map((w): WireWord => [w.text, w.start, w.start === null ? null : w.start + 0.25]))
    )
    // finals (repeats likely, from the few words and times) with a settle after some of them
    const step = FastCheck.tuple(utterance, FastCheck.option(FastCheck.constantFrom(0.5, 1, 2.5, 3, 5, 10)))
    FastCheck.assert(
      FastCheck.property(FastCheck.array(step, { minLength: 1, maxLength: 16 }), (steps) => {
        const whole = fold(steps.map(([event]) => event))
        let state = Transcript.empty
        const moved: Array<Transcript.Utterance> = []
        for (const [event, before] of steps) {
          state = Transcript.reduce(state, event)
          if (before === null) continue
          const { settled, state: left } = Transcript.settle(state, before)
          moved.push(...settled)
          state = left
        }
        assert.deepStrictEqual(
          Transcript.utterances(Transcript.withSettled(state, moved)),
          Transcript.utterances(whole)
        )
        // a restart: the finals in memory from what was saved, the ids of those moved out held again; every final
        // delivered again adds nothing
        const saved = Either.getOrThrow(Transcript.fromJson(JSON.parse(JSON.stringify(Transcript.toJson(state)))))
        const restored = Transcript.holdSettled(saved, JSON.parse(JSON.stringify(moved)))
        const again = steps.map(([event]) => event).reduce(Transcript.reduce, restored)
        assert.deepStrictEqual(again.finals.map((u) => u.id), restored.finals.map((u) => u.id))
      }),
      { numRuns: 500 }
    )
  })
})
