import { Fixtures } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
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
    assert.deepStrictEqual(state.finals.map((u) => u.id), ["300-1000", "200-5000", "100-9000"])
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
