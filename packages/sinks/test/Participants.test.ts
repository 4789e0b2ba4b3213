import { Fixtures, SessionEvent, SessionKey } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Participants from "../src/Participants.js"
import { decode, pe, person } from "./helpers.js"

const fold = (events: ReadonlyArray<Participants.Input>) => events.reduce(Participants.reduce, Participants.empty)

describe("Participants", () => {
  it("tracks presence, speaking, webcam and screenshare intervals with talk time and share", () => {
    const state = fold([
      pe("participant_events.join", 100, 0),
      pe("participant_events.join", 200, 1),
      pe("participant_events.speech_on", 100, 2),
      pe("participant_events.webcam_on", 100, 2),
      pe("participant_events.speech_off", 100, 5),
      pe("participant_events.speech_on", 200, 5),
      pe("participant_events.speech_off", 200, 6),
      pe("participant_events.screenshare_on", 200, 6),
      pe("participant_events.screenshare_off", 200, 8),
      pe("participant_events.leave", 200, 9),
      pe("participant_events.join", 200, 12),
      pe("participant_events.speech_on", 100, 13),
      pe("participant_events.speech_off", 100, 14)
    ])
    assert.strictEqual(Participants.talkTime(state, "100"), 4)
    assert.strictEqual(Participants.talkTime(state, "200"), 1)
    assert.strictEqual(Participants.talkShare(state, "100"), 0.8)
    const grace = state.roster["200"]!
    assert.deepStrictEqual(Chunk.toReadonlyArray(grace.presence), [{ start: 1, end: 9 }, { start: 12, end: null }])
    assert.deepStrictEqual(Chunk.toReadonlyArray(grace.screenshare), [{ start: 6, end: 8 }])
    assert.deepStrictEqual(Chunk.toReadonlyArray(state.roster["100"]!.webcam), [{ start: 2, end: null }])
    const closed = Participants.close(state, 20)
    assert.deepStrictEqual(Chunk.toReadonlyArray(closed.roster["100"]!.webcam), [{ start: 2, end: 20 }])
    assert.deepStrictEqual(Chunk.unsafeGet(closed.roster["200"]!.presence, 1), { start: 12, end: 20 })
  })

  it("a connection gap closes open speech at its start, so a speech_off lost in it is not counted as talk", () => {
    const session = SessionKey.make("bot-1")
    const state = fold([
      pe("participant_events.join", 100, 0),
      pe("participant_events.webcam_on", 100, 1),
      pe("participant_events.speech_on", 100, 2),
      // the connection drops at 4 s; the speech_off at 5 s is lost; Recall reconnects at 8 s
      new SessionEvent.Gap({ session, at: 0, from: 4, to: 8 }),
      pe("participant_events.speech_on", 100, 10),
      pe("participant_events.speech_off", 100, 11)
    ])
    assert.deepStrictEqual(Chunk.toReadonlyArray(state.roster["100"]!.speaking), [{ start: 2, end: 4 }, {
      start: 10,
      end: 11
    }])
    assert.strictEqual(Participants.talkTime(state, "100"), 3)
    assert.deepStrictEqual(Chunk.toReadonlyArray(state.roster["100"]!.webcam), [{ start: 1, end: null }])
  })

  it("defines the edge cases: off without on, activity before join, leave while speaking, open at end", () => {
    const state = fold([
      pe("participant_events.speech_off", 100, 1), // nothing open: ignored
      pe("participant_events.speech_on", 200, 2), // before its join: present from here
      pe("participant_events.join", 200, 3),
      pe("participant_events.speech_on", 200, 3.5), // already speaking: keeps the first start
      pe("participant_events.leave", 200, 6), // closes the speech too
      pe("participant_events.speech_off", 200, 7), // nothing open any more
      pe("participant_events.join", 300, 7),
      pe("participant_events.speech_on", 300, 8),
      pe("participant_events.update", 300, 10)
    ])
    assert.deepStrictEqual(Chunk.toReadonlyArray(state.roster["100"]!.speaking), [])
    assert.deepStrictEqual(Chunk.toReadonlyArray(state.roster["100"]!.presence), [])
    assert.deepStrictEqual(Chunk.toReadonlyArray(state.roster["200"]!.presence), [{ start: 2, end: 6 }])
    assert.deepStrictEqual(Chunk.toReadonlyArray(state.roster["200"]!.speaking), [{ start: 2, end: 6 }])
    // open speech is counted up to the latest time seen
    assert.strictEqual(Participants.talkTime(state, "300"), 2)
    assert.strictEqual(Participants.talkTime(Participants.close(state, 11), "300"), 3)
    // an off stamped before its on gives an empty interval, not a negative one
    const reordered = fold([pe("participant_events.speech_on", 100, 5), pe("participant_events.speech_off", 100, 4)])
    assert.deepStrictEqual(Chunk.toReadonlyArray(reordered.roster["100"]!.speaking), [{ start: 5, end: 5 }])
  })

  it("is a value: a state that two events are applied to gives two states, and stays as it was", () => {
    // a long history first, so the intervals are built by many appends; 511 of them closed and one open makes 512,
    // a multiple of the 32 at which the reducer flattens a list in place: the two states below start from it
    const pairs = 511
    const talk = Array.from({ length: pairs }, (_, i) => [
      pe("participant_events.speech_on", 100, 2 * i),
      pe("participant_events.speech_off", 100, 2 * i + 1)
    ]).flat()
    const at = 2 * pairs
    const base = fold([pe("participant_events.join", 100, 0), ...talk, pe("participant_events.speech_on", 100, at)])
    const before = Participants.toJson(base)
    const stopped = Participants.reduce(base, pe("participant_events.speech_off", 100, at + 1))
    const left = Participants.reduce(base, pe("participant_events.leave", 100, at + 3))
    assert.deepStrictEqual(Participants.toJson(base), before)
    const last = (state: Participants.Participants) => Chunk.last(state.roster["100"]!.speaking)
    assert.deepStrictEqual(last(base), Option.some({ start: at, end: null }))
    assert.deepStrictEqual(last(stopped), Option.some({ start: at, end: at + 1 }))
    assert.deepStrictEqual(last(left), Option.some({ start: at, end: at + 3 }))
    assert.strictEqual(stopped.roster["100"]!.speaking.length, pairs + 1)
    assert.strictEqual(Participants.talkTime(stopped, "100"), pairs + 1)
    assert.deepStrictEqual(
      Chunk.toReadonlyArray(stopped.roster["100"]!.speaking).slice(0, 3),
      [{ start: 0, end: 1 }, { start: 2, end: 3 }, { start: 4, end: 5 }]
    )
    assert.isTrue(Participants.isOpen(base.roster["100"]!.speaking))
    assert.isFalse(Participants.isOpen(left.roster["100"]!.presence))
  })

  it("keeps details and name history, chat without repeats, and returns the same state for no change", () => {
    const chat = decode(Fixtures.chat("link", { participant: person(300, null), at: 4 }))
    const state = fold([
      pe("participant_events.join", 300, 1, person(300, null)),
      chat,
      chat,
      pe("participant_events.update", 300, 5, { ...person(300, "Dan"), email: "dan@example.com" }),
      pe("participant_events.update", 300, 6, { ...person(300, "Daniel"), email: null })
    ])
    const dan = state.roster["300"]!
    assert.deepStrictEqual(dan.names, ["Dan", "Daniel"])
    assert.strictEqual(dan.name, "Daniel")
    assert.strictEqual(dan.email, "dan@example.com")
    assert.strictEqual(dan.platform, "desktop")
    const chatted = Participants.chatToJson(state).map((c) => [c.at, c.participantId, c.text, c.to])
    assert.deepStrictEqual(chatted, [[4, 300, "link", "everyone"]])
    const again = pe("participant_events.join", 300, 7, person(300, "Daniel"))
    const once = Participants.reduce(state, again)
    assert.strictEqual(Participants.reduce(once, again), once)
  })

  it("keeps a long chat in arrival order, a repeat of a message once, and every earlier state as it was", () => {
    const say = (i: number, at = i / 2, id = 100 + (i % 2)) =>
      decode(Fixtures.chat(`message ${i}`, { participant: person(id), at }))
    const texts = (state: Participants.Participants) => Participants.chatToJson(state).map((c) => c.text)
    const first = Array.from({ length: 1500 }, (_, i) => say(i)).reduce(Participants.reduce, Participants.empty)
    const held = texts(first)
    const long = Array.from({ length: 1500 }, (_, i) => say(1500 + i)).reduce(Participants.reduce, first)
    assert.deepStrictEqual(texts(long), Array.from({ length: 3000 }, (_, i) => `message ${i}`))
    // the state before the second half still holds its 1,500 messages (the chat is shared, never changed in place)
    assert.deepStrictEqual(texts(first), held)
    assert.strictEqual(first.chat.length, 1500)
    // a repeat of the latest, or of one at the latest time, changes nothing; another message at that time is kept
    assert.strictEqual(Participants.reduce(long, say(2999)), long)
    const sameTime = Participants.reduce(long, say(3000, 2999 / 2, 101))
    assert.strictEqual(Participants.reduce(sameTime, say(2999)), sameTime)
    assert.strictEqual(sameTime.chat.length, 3001)
    // a late message (an earlier time) is kept in arrival order, and a repeat of it right after changes nothing
    const late = Participants.reduce(sameTime, say(5000, 10))
    assert.deepStrictEqual(texts(late).slice(-2), ["message 3000", "message 5000"])
    assert.strictEqual(Participants.reduce(late, say(5000, 10)), late)
    // and so does a repeat of it after a message with a later time
    const after = Participants.reduce(late, say(5002, 1600))
    assert.strictEqual(Participants.reduce(after, say(5000, 10)), after)
    // restored from chat.json, the chat goes on the same way
    const restored = Either.getOrThrow(
      Participants.fromJson(Participants.toJson(late), JSON.parse(JSON.stringify(Participants.chatToJson(late))))
    )
    assert.strictEqual(Participants.reduce(restored, say(5000, 10)), restored)
    assert.deepStrictEqual(texts(Participants.reduce(restored, say(5001, 2000))), [...texts(late), "message 5001"])
  })

  it("returns the same state for messages that repeat what it knows, each with its own extra_data, and keeps a change", () => {
    const zoom = (guest: boolean) => ({ ...person(100), extra_data: { zoom: { guest, rooms: ["a", "b"] } } })
    const joined = fold([pe("participant_events.join", 100, 0, zoom(false))])
    // every message off the wire is parsed anew: equal extra_data, never the same object
    const transcript = (at: number, who: ReturnType<typeof zoom>) =>
      decode(Fixtures.transcript("hello", { participant: who, at }))
    const after = Participants.reduce(joined, transcript(1, zoom(false)))
    assert.strictEqual(after, joined)
    assert.strictEqual(Participants.reduce(after, transcript(2, zoom(false))), joined)
    const changed = Participants.reduce(after, transcript(3, zoom(true)))
    assert.notStrictEqual(changed, joined)
    assert.deepStrictEqual(changed.roster["100"]!.extraData, { zoom: { guest: true, rooms: ["a", "b"] } })
    // no extra_data at all keeps what was known
    const none = decode(Fixtures.transcript("hi", { participant: { ...person(100), extra_data: null }, at: 4 }))
    assert.strictEqual(Participants.reduce(changed, none), changed)
  })

  it("round-trips through participants.json and works as a Sink", () =>
    Effect.gen(function*() {
      const events = [
        pe("participant_events.join", 100, 0),
        pe("participant_events.speech_on", 100, 1),
        pe("participant_events.speech_off", 100, 2.5),
        decode(Fixtures.chat("hi", { participant: person(100), at: 3 }))
      ]
      const state = yield* Stream.run(Stream.fromIterable(events), Participants.sink)
      const json = JSON.parse(JSON.stringify(Participants.toJson(state)))
      assert.strictEqual(json["100"].talkTime, 1.5)
      assert.strictEqual(json["100"].talkShare, 1)
      const restored = Participants.fromJson(json, JSON.parse(JSON.stringify(Participants.chatToJson(state))))
      assert.isTrue(Either.isRight(restored))
      if (Either.isRight(restored)) {
        assert.deepStrictEqual(Participants.toJson(restored.right), Participants.toJson(state))
        assert.deepStrictEqual(Participants.chatToJson(restored.right), Participants.chatToJson(state))
        assert.strictEqual(restored.right.at, state.at)
        assert.isTrue(Chunk.isChunk(restored.right.roster["100"]!.speaking))
      }
    }).pipe(Effect.runPromise))
})

describe("Participants keyed by strings", () => {
  it("answers for any key, including the names of Object.prototype", () => {
    const state = fold([pe("participant_events.speech_on", 100, 1), pe("participant_events.speech_off", 100, 3)])
    for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      assert.strictEqual(Participants.talkTime(state, key), 0, key)
      assert.strictEqual(Participants.talkShare(state, key), 0, key)
    }
    assert.strictEqual(Participants.talkTime(state, "100"), 2)
  })

  it("reads back any key of participants.json, setting no prototype", () => {
    const state = fold([pe("participant_events.join", 100, 1)])
    const saved = JSON.parse(JSON.stringify(Participants.toJson(state)))
    const text = `{"100":${JSON.stringify(saved["100"])},"__proto__":${
      JSON.stringify({ ...saved["100"], key: "__proto__" })
    }}`
    const restored = Either.getOrThrow(Participants.fromJson(JSON.parse(text)))
    assert.deepStrictEqual(Object.keys(restored.roster), ["100", "__proto__"])
    assert.strictEqual(Participants.list(restored)[1]!.key, "__proto__")
    assert.isUndefined((restored.roster as { presence?: unknown }).presence, "no prototype was set")
  })

  it("lists whole-number ids ascending, then the others by first appearance", () => {
    const state = fold([
      pe("participant_events.join", 300, 1),
      pe("participant_events.join", null, 2),
      pe("participant_events.join", 100, 3),
      pe("participant_events.join", -5, 4)
    ])
    assert.deepStrictEqual(Participants.list(state).map((p) => p.key), ["100", "300", "unknown", "-5"])
    assert.deepStrictEqual(Object.keys(Participants.toJson(state)), ["100", "300", "unknown", "-5"])
  })
})

describe("Participants.settle", () => {
  it("moves each list's oldest closed intervals out, keeps open ones, and puts them back in place", () => {
    const state = fold([
      pe("participant_events.join", 100, 0),
      pe("participant_events.speech_on", 100, 1),
      pe("participant_events.speech_off", 100, 2),
      pe("participant_events.speech_on", 100, 3),
      pe("participant_events.speech_off", 100, 6),
      pe("participant_events.speech_on", 100, 7),
      pe("participant_events.webcam_on", 100, 7)
    ])
    const { settled, state: left } = Participants.settle(state, 5)
    // the second speech interval ends at 6: it and everything after it stay; presence and webcam are open
    assert.deepStrictEqual(settled, [{ key: "100", kind: "speaking", start: 1, end: 2 }])
    assert.deepStrictEqual(Chunk.toReadonlyArray(left.roster["100"]!.speaking), [{ start: 3, end: 6 }, {
      start: 7,
      end: null
    }])
    assert.strictEqual(Participants.settle(left, 5).state, left)
    // the reducer goes on as it would have: the open interval closes, a new one opens
    const later = Participants.reduce(left, pe("participant_events.speech_off", 100, 8))
    const whole = Participants.reduce(state, pe("participant_events.speech_off", 100, 8))
    assert.deepStrictEqual(Participants.toJson(Participants.withSettled(later, settled)), Participants.toJson(whole))
    // what the state alone counts is what it holds
    assert.strictEqual(Participants.talkTime(later, "100"), 4)
    assert.strictEqual(Participants.talkTime(whole, "100"), 5)
  })

  it("property: settling at any points and putting back gives the state of the same events never settled", () => {
    const kinds = ["speech", "webcam", "screenshare"] as const
    const event = FastCheck.oneof(
      FastCheck.record({
        kind: FastCheck.constantFrom(...kinds),
        on: FastCheck.boolean(),
        id: FastCheck.constantFrom(100, 200),
        at: FastCheck.integer({ min: 0, max: 40 })
      }).map(({ at, id, kind, on }) => pe(`participant_events.${kind}_${on ? "on" : "off"}`, id, at)),
      FastCheck.record({
        join: FastCheck.boolean(),
        id: FastCheck.constantFrom(100, 200),
        at: FastCheck.integer({ min: 0, max: 40 })
      }).map(({ at, id, join }) => pe(join ? "participant_events.join" : "participant_events.leave", id, at))
    )
    // events in any order (times go back too), with a settle after some of them
    const step = FastCheck.tuple(event, FastCheck.option(FastCheck.integer({ min: 0, max: 45 })))
    FastCheck.assert(
      FastCheck.property(FastCheck.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        const whole = fold(steps.map(([e]) => e))
        let state = Participants.empty
        const moved: Array<Participants.SettledInterval> = []
        for (const [e, before] of steps) {
          state = Participants.reduce(state, e)
          if (before === null) continue
          const { settled, state: left } = Participants.settle(state, before)
          moved.push(...settled)
          state = left
        }
        assert.deepStrictEqual(Participants.toJson(Participants.withSettled(state, moved)), Participants.toJson(whole))
        // a restart: the roster in memory from what was saved, the intervals moved out read back from their lines
        const saved = Either.getOrThrow(
          Participants.fromJson(JSON.parse(JSON.stringify(Participants.rosterToJson(state))))
        )
        const lines = JSON.parse(JSON.stringify(moved))
        assert.deepStrictEqual(
          Participants.rosterToJson(Participants.withSettled({ ...saved, at: state.at }, lines)),
          Participants.rosterToJson(whole)
        )
      })
    )
  })
})

describe("Participants.settleChat", () => {
  const say = (text: string, at: number, id = 100) => decode(Fixtures.chat(text, { participant: person(id), at }))
  const texts = (state: Participants.Participants) => Participants.chatToJson(state).map((c) => c.text)

  it("moves the oldest messages out, keeps a digest of each so a repeat changes nothing, and puts them back in place", () => {
    const state = ["a", "b", "c", "d"].map((text, i) => say(text, i * 5)).reduce(
      Participants.reduce,
      Participants.empty
    )
    const { settled, state: left } = Participants.settleChat(state, 7)
    assert.deepStrictEqual(settled.map((m) => m.text), ["a", "b"])
    assert.deepStrictEqual(texts(left), ["c", "d"])
    assert.strictEqual(Participants.settleChat(left, 7).state, left)
    // a repeat of a message moved out changes nothing; a message at its time with another text is kept
    assert.strictEqual(Participants.reduce(left, say("a", 0)), left)
    assert.strictEqual(Participants.reduce(left, say("b", 5)), left)
    const other = Participants.reduce(left, say("b'", 5))
    assert.deepStrictEqual(texts(Participants.withSettledChat(other, settled)), ["a", "b", "c", "d", "b'"])
    // everything moved out: the digests still answer
    const { settled: rest, state: empty } = Participants.settleChat(left, 100)
    assert.strictEqual(empty.chat.length, 0)
    assert.strictEqual(Participants.reduce(empty, say("c", 10)), empty)
    assert.deepStrictEqual(texts(Participants.withSettledChat(empty, [...settled, ...rest])), ["a", "b", "c", "d"])
    // a restart: the messages held from the checkpoint, those moved out read back from their lines
    const saved = Either.getOrThrow(Participants.fromJson(JSON.parse(JSON.stringify(Participants.toJson(empty)))))
    const restored = Participants.holdSettledChat(
      { ...saved, at: empty.at },
      JSON.parse(JSON.stringify([...settled, ...rest]))
    )
    assert.strictEqual(Participants.reduce(restored, say("a", 0)), restored)
    assert.deepStrictEqual(texts(Participants.reduce(restored, say("e", 30))), ["e"])
  })

  it("property: settling at any points gives the chat of the same events never settled, across a restart too", () => {
    // a few texts, senders and times, so repeats, messages at the same time and late ones are frequent
    const message = FastCheck.record({
      text: FastCheck.constantFrom("hi", "link", "ok"),
      id: FastCheck.constantFrom(100, 200),
      at: FastCheck.integer({ min: 0, max: 20 })
    }).map(({ at, id, text }) => say(text, at, id))
    const step = FastCheck.tuple(message, FastCheck.option(FastCheck.integer({ min: 0, max: 25 })))
    FastCheck.assert(
      FastCheck.property(FastCheck.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        let whole = Participants.empty
        let state = Participants.empty
        const moved: Array<Participants.Chat> = []
        const half = Math.floor(steps.length / 2)
        steps.forEach(([event, before], i) => {
          whole = Participants.reduce(whole, event)
          state = Participants.reduce(state, event)
          if (before !== null) {
            const { settled, state: left } = Participants.settleChat(state, before)
            moved.push(...settled)
            state = left
          }
          if (i === half) {
            // a restart: the messages held from the checkpoint's JSON, the digests from the lines moved out
            const saved = Either.getOrThrow(
              Participants.fromJson(
                Participants.rosterToJson(state),
                JSON.parse(JSON.stringify(Participants.chatToJson(state)))
              )
            )
            state = Participants.holdSettledChat({ ...saved, at: state.at }, JSON.parse(JSON.stringify(moved)))
          }
        })
        assert.deepStrictEqual(
          Participants.chatToJson(Participants.withSettledChat(state, moved)),
          Participants.chatToJson(whole)
        )
      }),
      { numRuns: 500 }
    )
  })
})
