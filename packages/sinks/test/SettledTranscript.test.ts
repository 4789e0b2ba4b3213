// A long meeting's transcript: the recorder keeps its recent finals in memory and the rest in
// transcript.settled.jsonl, and the transcript files still hold every final, across restarts too.
import { SampleMeeting, type SessionEvent } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Exports from "../src/Exports.js"
import * as SettledTranscript from "../src/internal/settledTranscript.js"
import * as Participants from "../src/Participants.js"
import * as SessionSummary from "../src/SessionSummary.js"
import * as Transcript from "../src/Transcript.js"
import {
  assertSettled,
  BOT,
  itContinuesAcrossRestarts,
  itGivesUpWritesThatNeverSucceed,
  itHoldsOutOfMemory,
  json,
  recordWithFailingWrites,
  sessionItems,
  type SettledFile,
  tempDir
} from "./recording.js"

const SETTLED = "transcript.settled.jsonl"
const TRANSCRIPT_FILES = ["transcript.json", "transcript.txt", "transcript.srt", "transcript.vtt"] as const

// 3 minutes of meeting: many finals, most of them more than 10 s older than the latest
const items = sessionItems(SampleMeeting.generate({ seed: 4, duration: 180, separate: false }).entries)

/** The transcript files of the events, rendered from the reducer's state (nothing moved out). */
const expected = (events: ReadonlyArray<SessionEvent.SessionEvent>) => {
  const transcript = events.reduce(Transcript.reduce, Transcript.empty)
  const files = Exports.render({ transcript, participants: Participants.empty, summary: SessionSummary.empty(BOT) })
  return { derived: TRANSCRIPT_FILES.map((name) => files[name]), total: transcript.finals.length }
}

const transcriptFiles = (folder: string) =>
  TRANSCRIPT_FILES.map((name) => fs.readFileSync(path.join(folder, name), "utf8"))

const settledFinals: SettledFile = {
  file: SETTLED,
  offsets: "settled",
  derived: transcriptFiles,
  held: (checkpoint) => checkpoint.transcript.finals.length
}

const quiet = Logger.minimumLogLevel(LogLevel.Error)

describe("the settled transcript of a recorder", () => {
  const want = () => expected(items.all)

  itHoldsOutOfMemory(
    "holds the older finals out of memory; the transcript files still hold every final",
    items,
    settledFinals,
    want
  )
  itContinuesAcrossRestarts(items, settledFinals, want)
  itGivesUpWritesThatNeverSucceed(items, settledFinals)

  it.live("writes of it that fail are tried again; the transcript files wait for them and end complete", () =>
    Effect.gen(function*() {
      // what transcript.json held while the writes failed: never one missing the finals that could not be written
      let whileFailing: ReadonlyArray<string> = []
      const { failures, folder } = yield* recordWithFailingWrites(items, SETTLED, (folder) => {
        const file = path.join(folder, "transcript.json")
        if (fs.existsSync(file)) whileFailing = json(file).utterances.map((u: Transcript.Utterance) => u.id)
      })
      // (an earlier, complete transcript: the first finals of the meeting, as many as there were then)
      const ids = items.all.reduce(Transcript.reduce, Transcript.empty).finals.map((u) => u.id)
      assert.deepStrictEqual(whileFailing, ids.slice(0, whileFailing.length))
      assert.isAbove(failures, 0, "a write of the settled finals failed")
      assertSettled(folder, settledFinals, want())
      assert.isAbove(json(path.join(folder, "session.json")).recorder.writeFailures, 0)
    }).pipe(Effect.provide(quiet)))

  it.effect("a restart reads it back cut to what the checkpoint counted, and refuses one shorter or unreadable", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), SETTLED)
      const finals = want().total
      assert.isAbove(finals, 2)
      const transcript = items.all.reduce(Transcript.reduce, Transcript.empty)
      const lines = transcript.finals.slice(0, 3).map(SettledTranscript.line)
      const counted = Buffer.byteLength(lines[0]! + lines[1]!)
      fs.writeFileSync(file, lines.join(""))
      // a line after the checkpoint's (moved out later, then a kill): cut off, and the file cut with it
      const back = yield* SettledTranscript.restore(file, counted)
      assert.deepStrictEqual(Either.getOrThrow(back), transcript.finals.slice(0, 2))
      assert.strictEqual(fs.statSync(file).size, counted)
      // fewer bytes than counted, or a line that is not a final: no use
      assert.isTrue(Either.isLeft(yield* SettledTranscript.restore(file, counted + 1)))
      fs.writeFileSync(file, "{\"text\": 1}\n")
      assert.isTrue(Either.isLeft(yield* SettledTranscript.restore(file, 12)))
      // none there and none counted: nothing to read
      fs.rmSync(file)
      assert.deepStrictEqual(Either.getOrThrow(yield* SettledTranscript.restore(file, 0)), [])
    }).pipe(Effect.provide(NodeContext.layer)))
})
