/**
 * `callstream inspect` as a user runs it, on a tape and on an output folder that `serve` filled with several
 * meetings; what it reports is checked against the generated meetings it was given.
 */
import { SampleMeeting, type Tape } from "@callstream/core"
import { RecallSimulator } from "@callstream/server"
import { SessionRecorder } from "@callstream/sinks"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Inspect from "../src/Inspect.js"
import { cli, endedSession, servedUrl, start, tmp } from "./helpers.js"

const eventOf = (entry: Tape.TapeEntry) => (entry.message as { readonly event: string }).event

/** Messages by event name, counted from the tape itself. */
const countByEvent = (entries: ReadonlyArray<Tape.TapeEntry>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const entry of entries) counts[eventOf(entry)] = (counts[eventOf(entry)] ?? 0) + 1
  return counts
}

const talk = (meeting: SampleMeeting.SampleMeeting, id: number) =>
  meeting.turns.filter((t) => t.participantId === id).reduce((sum, t) => sum + t.end - t.start, 0)

const parse = (stdout: string): ReadonlyArray<Inspect.Summary> => JSON.parse(stdout)

describe("callstream inspect --json", () => {
  it("prints one JSON summary per session of a tape, as the tape holds it", async () => {
    const meeting = SampleMeeting.generate(SampleMeeting.FIXTURE)
    const status: Tape.TapeEntry = {
      at: 29.9,
      message: {
        event: "bot.status_change",
        data: { data: {}, bot: { id: meeting.options.botId }, recording: { id: meeting.options.recordingId } }
      }
    }
    const entries = [...meeting.entries, status]
    const tape = path.join(tmp(), "meeting.jsonl")
    fs.writeFileSync(tape, SampleMeeting.toJsonl({ entries }))

    const { code, stderr, stdout } = await cli(["inspect", tape, "--json"])
    assert.strictEqual(code, 0, stderr)
    const summaries = parse(stdout)
    assert.strictEqual(summaries.length, 1)
    const summary = summaries[0]!
    assert.strictEqual(summary.session, meeting.options.botId)
    assert.strictEqual(summary.messages, entries.length)
    assert.deepStrictEqual(summary.byEvent, countByEvent(entries))
    assert.strictEqual(summary.unknownEvents, 1)
    assert.strictEqual(summary.decodeFailures, 0)
    assert.strictEqual(summary.utterances, meeting.turns.length)
    assert.deepStrictEqual(
      summary.participants.map((p) => [p.id, p.name]),
      [[100, "Ada Lovelace"], [200, "Grace Hopper"], [300, "Participant 300"]]
    )
    for (const p of summary.participants) assert.closeTo(p.talkSeconds, talk(meeting, p.id!), 0.05, `talk of ${p.id}`)
    assert.closeTo(summary.participants.reduce((sum, p) => sum + p.talkShare, 0), 1, 0.01)
    assert.closeTo(summary.audioSeconds.mixed, meeting.options.duration, 0.001)
    assert.deepStrictEqual(Object.keys(summary.audioSeconds.separate).sort(), ["100", "200", "300"])
    assert.deepStrictEqual(summary.gaps, [])
    assert.deepStrictEqual(summary.drops, [])
  })
})

describe("callstream inspect on an output folder", () => {
  it("summarises every session folder in it, with the connection gap only session.json knows", async () => {
    const out = tmp()
    const serve = start(["serve", "--port", "0", "--out", out, "--session-timeout", "1"], {
      CALLSTREAM_TOKEN: "inspect-token"
    })
    const { url } = await servedUrl(serve)
    // two meetings at once; the second one's key is no safe folder name, and its connection drops once
    const plain = SampleMeeting.generate({ seed: 2, duration: 10, botId: "bot-a" })
    const dropped = SampleMeeting.generate({ seed: 4, duration: 12, botId: "bot b/2" })
    const speed = 20
    const replay = (meeting: SampleMeeting.SampleMeeting, drops: ReadonlyArray<RecallSimulator.Drop> = []) =>
      RecallSimulator.replay(meeting.entries, {
        url: `${url}?token=inspect-token`,
        speed,
        retrySpacing: Duration.millis(3000 / speed),
        drops
      })
    const [a, b] = await Effect.runPromise(
      Effect.all([replay(plain), replay(dropped, [{ atTime: 6 }])], { concurrency: "unbounded" })
    )
    assert.strictEqual(b.connections, 2)
    const folders = ["bot-a", "bot b/2"].map(SessionRecorder.folderName)
    for (const folder of folders) await endedSession(path.join(out, folder))
    serve.child.kill("SIGINT")
    assert.strictEqual(await serve.exited, 0)
    assert.deepStrictEqual(fs.readdirSync(out).sort(), [...folders].sort())

    const text = await cli(["inspect", out])
    assert.strictEqual(text.code, 0, text.stderr)
    assert.include(text.stdout, `session bot-a\n  messages ${a.sent} `)
    assert.include(text.stdout, `session bot b/2\n  messages ${b.sent} `)

    const json = await cli(["inspect", out, "--json"])
    assert.strictEqual(json.code, 0, json.stderr)
    const summaries = parse(json.stdout)
    // in the order of the folders' names
    assert.deepStrictEqual(summaries.map((s) => s.session), ["bot-a", "bot b/2"])
    assert.deepStrictEqual(summaries.map((s) => s.messages), [a.sent, b.sent])
    assert.strictEqual(summaries[0]!.utterances, plain.turns.length)
    assert.deepStrictEqual(summaries[0]!.gaps, [])
    const connectionGaps = summaries[1]!.gaps.filter((g) => g.track === "connection")
    assert.strictEqual(connectionGaps.length, 1)
    assert.closeTo(connectionGaps[0]!.from, 6, 0.5)
    assert.isAbove(connectionGaps[0]!.to, connectionGaps[0]!.from)
    // the mixed track has the same hole
    assert.isTrue(summaries[1]!.gaps.some((g) => g.track === "mixed" && g.from < 6.5 && g.to > 6.5))
  })
})
