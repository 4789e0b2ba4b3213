// A long meeting's participants: the recorder keeps their open intervals in memory and the closed ones in
// participants.settled.jsonl, and participants.json still holds every interval, across restarts too.
import { SampleMeeting, type SessionEvent } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Exports from "../src/Exports.js"
import * as Participants from "../src/Participants.js"
import * as SessionSummary from "../src/SessionSummary.js"
import * as Transcript from "../src/Transcript.js"
import {
  BOT,
  itContinuesAcrossRestarts,
  itRetriesFailedWrites,
  recordPacedWhole,
  sessionItems,
  type SettledFile
} from "./recording.js"

const SETTLED = "participants.settled.jsonl"

// 3 minutes of meeting: many speech turns, most of them over long before the end
const items = sessionItems(SampleMeeting.generate({ seed: 7, duration: 180, separate: false }).entries)

/** `participants.json` of the events, rendered from the reducer's state (nothing moved out), and its intervals. */
const expected = (events: ReadonlyArray<SessionEvent.SessionEvent>) => {
  const participants = events.reduce(Participants.reduce, Participants.empty)
  const files = Exports.render({ transcript: Transcript.empty, participants, summary: SessionSummary.empty(BOT) })
  return { intervals: intervalsOf(Participants.rosterToJson(participants)), file: files["participants.json"] }
}

const intervalsOf = (roster: Record<string, Record<string, unknown>>): number =>
  Object.values(roster).reduce(
    (sum, p) =>
      sum + ["presence", "speaking", "webcam", "screenshare"]
        .reduce((n, kind) => n + (p[kind] as ReadonlyArray<unknown>).length, 0),
    0
  )

const participantsFile = (folder: string) => fs.readFileSync(path.join(folder, "participants.json"), "utf8")

const settledIntervals: SettledFile = {
  file: SETTLED,
  derived: participantsFile,
  held: (checkpoint) => intervalsOf(checkpoint.participants.roster)
}

const quiet = Logger.minimumLogLevel(LogLevel.Error)

describe("the settled intervals of a recorder", () => {
  it.live("holds closed intervals out of memory; participants.json still holds every interval", () =>
    Effect.gen(function*() {
      const want = expected(items.all)
      assert.isAbove(want.intervals, 40, "a meeting with many intervals")
      const { bytes, checkpoint, folder, lines: settled } = yield* recordPacedWhole(items, SETTLED)
      assert.strictEqual(participantsFile(folder), want.file)
      // most intervals left memory: the checkpoint's roster holds the rest, the file says how much of it is its
      assert.isAbove(settled, want.intervals / 2)
      assert.strictEqual(settled + intervalsOf(checkpoint.participants.roster), want.intervals)
      assert.strictEqual(checkpoint.intervals.lines, settled)
      assert.strictEqual(checkpoint.intervals.bytes, bytes)
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  const want = () => {
    const { file, intervals } = expected(items.all)
    return { derived: file, total: intervals }
  }
  itContinuesAcrossRestarts(items, settledIntervals, want)
  itRetriesFailedWrites(items, settledIntervals, "participants.json", want)
})
