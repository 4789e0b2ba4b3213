import { SessionEvent } from "@callstream/core"
import * as SessionMerge from "@callstream/redis/SessionMerge"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { audio, closed, describe as show, ended, opened, receiver, SESSION, started, words } from "./events.js"

const TIMEOUT = 95_000
const options: SessionMerge.Options = { sessionTimeout: TIMEOUT }

const codec = Schema.parseJson(SessionMerge.State)

/** Runs entries through the merge; with `saved`, the state goes through its JSON form between every two entries. */
const merge = (entries: ReadonlyArray<SessionMerge.Input>, saved = false) => {
  let state: SessionMerge.State | undefined
  const events: Array<SessionEvent.SessionEvent> = []
  const steps: Array<SessionMerge.Step> = []
  for (const entry of entries) {
    const step = SessionMerge.step(state, entry, options)
    steps.push(step)
    state = step.state === undefined || !saved
      ? step.state
      : Schema.decodeSync(codec)(Schema.encodeSync(codec)(step.state))
    events.push(...step.events)
  }
  return { events, state, steps }
}

describe("SessionMerge", () => {
  it("one receiver's session comes out as that receiver's server gave it, gaps included", () => {
    const a = receiver("A")
    const local: Array<SessionEvent.SessionEvent> = [
      started(1000),
      opened("c1", 1000),
      audio(0, 1000, "c1"),
      audio(0.1, 1100, "c1"),
      closed("c1", 1200),
      // the router's own gap: from the end of the last audio to the first sample after the reconnect
      opened("c2", 9000),
      new SessionEvent.Gap({ session: SESSION, at: 9100, from: 0.2, to: 8 }),
      audio(8, 9100, "c2"),
      words("hello there", 8, 9200, "c2"),
      closed("c2", 10_000),
      ended("timeout", 10_000 + TIMEOUT)
    ]
    const { events, state } = merge([a(local.slice(0, 3)), a(local.slice(3, 8)), a(local.slice(8))])
    assert.deepStrictEqual(events.map(show), local.map(show))
    assert.deepStrictEqual(events.find((e) => e._tag === "Gap"), local[6])
    assert.isUndefined(state, "ended")
  })

  it("a meeting that moves to another receiver is one session, with one gap, ending only after the last connection's timeout", () => {
    const a = receiver("A")
    const b = receiver("B")
    const { events, state } = merge([
      a([started(1000), opened("a1", 1000), audio(0, 1000, "a1"), words("before the drop", 0.05, 1050, "a1")]),
      a([audio(0.1, 1100, "a1")]),
      a([closed("a1", 2000)]),
      b([started(9000), opened("b1", 9000), audio(8, 9000, "b1")]),
      // A's own session times out while B has the meeting: absorbed
      a([ended("timeout", 2000 + TIMEOUT)]),
      b([words("after it", 8, 9100, "b1"), closed("b1", 20_000)]),
      b([ended("timeout", 20_000 + TIMEOUT)])
    ])
    assert.deepStrictEqual(events.map(show), [
      "SessionStarted",
      "ConnectionOpened a1",
      "audio_mixed_raw.data@1000",
      "transcript.data@1050",
      "audio_mixed_raw.data@1100",
      "ConnectionClosed a1",
      "ConnectionOpened b1",
      "Gap 1.25-8", // from the end of the last word heard before the drop
      "audio_mixed_raw.data@9000",
      "transcript.data@9100",
      "ConnectionClosed b1",
      `SessionEnded timeout@${20_000 + TIMEOUT}`
    ])
    assert.strictEqual(events.filter((e) => e._tag === "SessionStarted")[0]!.at, 1000, "the first receiver's start")
    assert.isUndefined(state)
  })

  it("a connection that opens elsewhere before the old one is seen closing leaves no gap", () => {
    const a = receiver("A")
    const b = receiver("B")
    const { events } = merge([
      a([started(1000), opened("a1", 1000), audio(0, 1000, "a1")]),
      b([started(3000), opened("b1", 3000), audio(2, 3000, "b1")]),
      a([closed("a1", 30_000)]),
      b([audio(2.1, 3100, "b1")])
    ])
    assert.isFalse(events.some((e) => e._tag === "Gap"))
    assert.isFalse(events.some((e) => e._tag === "SessionEnded"))
  })

  it("a receiver's timeout ends the session only when no connection anywhere closed more recently", () => {
    const a = receiver("A")
    const b = receiver("B")
    const { events, state } = merge([
      a([started(0), opened("a1", 0), audio(0, 0, "a1"), closed("a1", 1000)]),
      b([opened("b1", 5000), audio(5, 5000, "b1"), closed("b1", 6000)]),
      a([ended("timeout", 1000 + TIMEOUT)])
    ])
    assert.isFalse(events.some((e) => e._tag === "SessionEnded"))
    assert.isDefined(state)
    const later = SessionMerge.step(state, { _tag: "Expire", session: SESSION, at: 6000 + TIMEOUT }, options)
    assert.deepStrictEqual(later.events.map(show), [`SessionEnded timeout@${6000 + TIMEOUT}`])
  })

  it("a receiver that shut down never times out: a worker's Expire note ends the session, not before its time", () => {
    const a = receiver("A")
    const { events, state } = merge([
      a([started(0), opened("a1", 0), audio(0, 0, "a1")]),
      a([closed("a1", 1000), ended("shutdown", 1001)])
    ])
    assert.isFalse(events.some((e) => e._tag === "SessionEnded"))
    const early = SessionMerge.step(state, { _tag: "Expire", session: SESSION, at: 1000 + TIMEOUT - 1 }, options)
    assert.deepStrictEqual(early.events, [])
    assert.isDefined(early.state)
    const due = SessionMerge.step(early.state, { _tag: "Expire", session: SESSION, at: 1000 + TIMEOUT }, options)
    assert.deepStrictEqual(due.events.map(show), [`SessionEnded timeout@${1000 + TIMEOUT}`])
    assert.isUndefined(due.state)
  })

  it("once every receiver that had the session shut down or is lost, none will end it: a worker's note must", () => {
    const a = receiver("A")
    const b = receiver("B")
    const { state } = merge([
      a([started(0), opened("a1", 0), audio(0, 0, "a1"), closed("a1", 1000)]),
      b([started(2000), opened("b1", 2000), audio(2, 2000, "b1")])
    ])
    assert.isTrue(SessionMerge.awaitsReceivers(state!))
    // A's own session ends (shut down); B is still there
    const aDown = SessionMerge.step(state, a([ended("shutdown", 3000)]), options)
    assert.isTrue(SessionMerge.awaitsReceivers(aDown.state!))
    const bLost = SessionMerge.step(
      aDown.state,
      { _tag: "ReceiverLost", session: SESSION, receiver: "B", at: 4000 },
      options
    )
    assert.isFalse(SessionMerge.awaitsReceivers(bLost.state!))
    // the end is dated when the timeout was reached, however late the note
    const end = SessionMerge.step(bLost.state, { _tag: "Expire", session: SESSION, at: 4000 + TIMEOUT + 7000 }, options)
    assert.deepStrictEqual(end.events.map(show), [`SessionEnded timeout@${4000 + TIMEOUT}`])
    // a receiver that starts the session again is one to wait for again
    const again = SessionMerge.step(aDown.state, a([started(5000), opened("a2", 5000)]), options)
    assert.isTrue(SessionMerge.awaitsReceivers(again.state!))
  })

  it("what a receiver says of a session that already ended starts nothing and is not kept; a message starts it again", () => {
    const a = receiver("A")
    const b = receiver("B")
    const { events, state } = merge([
      a([started(0), opened("a1", 0), audio(0, 0, "a1"), closed("a1", 1000)]),
      b([started(2000), opened("b1", 2000), audio(2, 2000, "b1"), closed("b1", 3000)]),
      b([ended("timeout", 3000 + TIMEOUT)])
    ])
    assert.strictEqual(events.at(-1)?._tag, "SessionEnded")
    assert.isUndefined(state)
    // A's own end comes later still (its timeout, a shutdown), or a close it wrote late
    for (const late of [a([ended("timeout", 4000 + TIMEOUT)]), a([closed("a9", 5000)])]) {
      const step = SessionMerge.step(undefined, late, options)
      assert.deepStrictEqual(step.events, [])
      assert.isUndefined(step.state, "nothing to save, so nothing left behind in the log")
    }
    // data for the key after its end is a new session, as in one process
    const restart = SessionMerge.step(undefined, a([audio(9, 9000 + TIMEOUT, "a1")]), options)
    assert.deepStrictEqual(restart.events.map(show), ["SessionStarted", `audio_mixed_raw.data@${9000 + TIMEOUT}`])
  })

  it("a receiver lost with connections open: they close (1006) when the loss is noted", () => {
    const a = receiver("A")
    const { state } = merge([a([started(0), opened("a1", 0), opened("a2", 0), audio(0, 0, "a1")])])
    const lost = SessionMerge.step(
      state,
      { _tag: "ReceiverLost", session: SESSION, receiver: "A", at: 50_000 },
      options
    )
    assert.deepStrictEqual(lost.events.map(show), ["ConnectionClosed a1", "ConnectionClosed a2"])
    assert.deepStrictEqual(
      lost.events.map((e) => e._tag === "ConnectionClosed" ? [e.code, e.reason, e.at] : []),
      [[1006, "receiver lost", 50_000], [1006, "receiver lost", 50_000]]
    )
    assert.strictEqual(lost.state?.disconnectedAt, 50_000)
  })

  it("a receiver noted lost that was only cut off: data on its connection opens it again, with a gap", () => {
    const a = receiver("A")
    const { state } = merge([a([started(0), opened("a1", 0), audio(0, 0, "a1")])])
    const lost = SessionMerge.step(
      state,
      { _tag: "ReceiverLost", session: SESSION, receiver: "A", at: 20_000 },
      options
    )
    const back = SessionMerge.step(lost.state, a([audio(0.1, 30_000, "a1")]), options)
    assert.deepStrictEqual(back.events.map(show), ["ConnectionOpened a1", "Gap 0.1-0.1", "audio_mixed_raw.data@30000"])
    assert.isUndefined(back.state?.disconnectedAt, "not expired later")
  })

  it("a batch seen before is skipped; a missing one becomes Dropped records with the counts it held", () => {
    const a = receiver("A")
    const first = a([started(0), opened("a1", 0), audio(0, 0, "a1")])
    const missing = a([audio(0.1, 100, "a1"), audio(0.2, 200, "a1"), words("lost words", 0.2, 250, "a1")])
    const third = a([audio(0.3, 300, "a1")])
    const { events, steps } = merge([first, first, third])
    assert.isTrue(steps[1]!.duplicate)
    assert.deepStrictEqual(steps[2]!.lost, { audio: 2, video: 0, other: 1 })
    assert.deepStrictEqual(events.map(show), [
      "SessionStarted",
      "ConnectionOpened a1",
      "audio_mixed_raw.data@0",
      "Dropped audio 2",
      "audio_mixed_raw.data@300"
    ])
    const dropped = events.find((e) => e._tag === "Dropped")!
    assert.deepStrictEqual([dropped.from, dropped.to], [0.1, 0.3])
    assert.strictEqual(missing.seq, 2)
  })

  it("the state saved between any two entries gives the same events (what a takeover relies on)", () => {
    const scenario = () => {
      const a = receiver("A")
      const b = receiver("B")
      return [
        a([started(1000), opened("a1", 1000), audio(0, 1000, "a1")]),
        a([closed("a1", 2000)]),
        b([started(9000), opened("b1", 9000), audio(8, 9000, "b1"), words("hi", 8, 9050, "b1")]),
        b([closed("b1", 10_000)]),
        { _tag: "Expire", session: SESSION, at: 10_000 + TIMEOUT } as const
      ]
    }
    const plain = merge(scenario())
    const saved = merge(scenario(), true)
    assert.deepStrictEqual(saved.events.map(show), plain.events.map(show))
    assert.strictEqual(plain.events.at(-1)?._tag, "SessionEnded")
  })
})
