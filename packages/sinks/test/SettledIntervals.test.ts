// A long meeting's participants: the recorder keeps their open intervals in memory and the closed ones in
// participants.settled.jsonl, and participants.json still holds every interval, across restarts too.
import { SampleMeeting, type SessionEvent } from "@callstream/core"
import { describe } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Exports from "../src/Exports.js"
import * as Participants from "../src/Participants.js"
import * as SessionSummary from "../src/SessionSummary.js"
import * as Transcript from "../src/Transcript.js"
import {
  BOT,
  itContinuesAcrossRestarts,
  itGivesUpWritesThatNeverSucceed,
  itHoldsOutOfMemory,
  itRetriesFailedWrites,
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
  return { derived: files["participants.json"], total: intervalsOf(Participants.rosterToJson(participants)) }
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
  offsets: "intervals",
  derived: participantsFile,
  held: (checkpoint) => intervalsOf(checkpoint.participants.roster)
}

describe("the settled intervals of a recorder", () => {
  const want = () => expected(items.all)

  itHoldsOutOfMemory(
    "holds closed intervals out of memory; participants.json still holds every interval",
    items,
    settledIntervals,
    want
  )
  itContinuesAcrossRestarts(items, settledIntervals, want)
  itGivesUpWritesThatNeverSucceed(items, settledIntervals)
  itRetriesFailedWrites(items, settledIntervals, "participants.json", want)
})
