import { Fixtures, SampleMeeting, SessionKey } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { RecallSimulator } from "../src/index.js"
import { collect, fast, messages, startServer, tags } from "./helpers.js"

describe("RecallServer", () => {
  it.live("a sample meeting on per-participant connections forms one session, in order, nothing lost", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer()
      const out = yield* collect(server.events)
      const meeting = SampleMeeting.generate({ duration: 8, separate: true, video: true })
      const result = yield* RecallSimulator.replay(meeting.entries, {
        url: server.address.url,
        ...fast,
        separateConnections: true
      })
      yield* shutdown
      yield* out.join
      const got = messages(out.items)
      assert.strictEqual(result.sent, meeting.entries.length)
      assert.strictEqual(got.length, meeting.entries.length)
      const keys = new Set(out.items.map((item) => item.session))
      assert.deepStrictEqual([...keys], [SessionKey.make(meeting.options.botId)])
      // one main connection and one per participant who spoke
      const opened = out.items.filter((item) => item._tag === "ConnectionOpened")
      assert.strictEqual(opened.length, result.connections)
      assert.isAbove(result.connections, 2)
      // each connection's messages arrive in the order they were sent
      const sentOrder = meeting.entries.map((entry) => JSON.stringify(entry.message))
      const byConnection = new Map<string, Array<string>>()
      for (const m of got) byConnection.set(m.connectionId!, [...(byConnection.get(m.connectionId!) ?? []), m.raw!])
      for (const raws of byConnection.values()) {
        const positions = raws.map((raw) => sentOrder.indexOf(raw))
        assert.deepStrictEqual(positions, [...positions].sort((a, b) => a - b))
      }
      const t = tags(out.items)
      assert.strictEqual(t[0], "SessionStarted")
      assert.strictEqual(t.at(-1), "SessionEnded")
      assert.strictEqual(t.filter((x) => x === "Gap").length, 0)
    }))

  it.live("binary frames decode like text frames", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer()
      const out = yield* collect(server.events)
      const entries = [0, 1, 2].map((i) => ({ at: i, message: Fixtures.transcript(`hello ${i}`, { at: i }) }))
      yield* RecallSimulator.replay(entries, { url: server.address.url, ...fast, binary: true })
      yield* shutdown
      yield* out.join
      assert.deepStrictEqual(messages(out.items).map((m) => m.event.event), [
        "transcript.data",
        "transcript.data",
        "transcript.data"
      ])
      assert.strictEqual(messages(out.items)[2]!.raw, JSON.stringify(entries[2]!.message))
    }))
})
