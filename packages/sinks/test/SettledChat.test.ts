// A long chat: the recorder keeps its last 10 s in memory and the older messages in chat.settled.jsonl, chat.json
// still holds every message, repeats of messages moved out are still recognized, across restarts too.
import { SampleMeeting, type SessionEvent, type Tape } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
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

const SETTLED = "chat.settled.jsonl"

// 3 minutes of meeting with a chat message every second, some sent twice at once (a repeat) and some again 60 s
// later (a late repeat, of a message long moved out of memory by then)
const meeting = SampleMeeting.generate({ seed: 7, duration: 180, separate: false }).entries
const template = meeting.find((entry) => (entry.message as any).event === "participant_events.chat_message")!
const chatAt = (at: number, text: string, from: number): Tape.TapeEntry => {
  const message = structuredClone(template.message) as any
  message.data.data.timestamp.relative = at
  message.data.data.participant.id = from
  message.data.data.data.text = text
  return { at, message }
}
const chat: Array<Tape.TapeEntry> = []
for (let t = 1; t < 178; t++) {
  chat.push(chatAt(t, `message ${t}`, 100 + (t % 3)))
  if (t % 10 === 0) chat.push(chatAt(t, `message ${t}`, 100 + (t % 3)))
  if (t % 25 === 0 && t > 60) chat.push({ ...chatAt(t - 60, `message ${t - 60}`, 100 + ((t - 60) % 3)), at: t })
}
const items = sessionItems([...meeting, ...chat].sort((a, b) => a.at - b.at))

/** `chat.json` of the events, rendered from the reducer's state (nothing moved out), and how many messages. */
const expected = (events: ReadonlyArray<SessionEvent.SessionEvent>) => {
  const participants = events.reduce(Participants.reduce, Participants.empty)
  const files = Exports.render({ transcript: Transcript.empty, participants, summary: SessionSummary.empty(BOT) })
  return { derived: files["chat.json"], total: participants.chat.length }
}

const chatFile = (folder: string) => fs.readFileSync(path.join(folder, "chat.json"), "utf8")

const settledChat: SettledFile = {
  file: SETTLED,
  offsets: "chat",
  derived: chatFile,
  held: (checkpoint) => checkpoint.participants.chat.length
}

describe("the settled chat of a recorder", () => {
  const want = () => expected(items.all)

  it("recognizes the meeting's repeats: every message once", () => {
    assert.strictEqual(want().total, 177 + 1, "the sample's own message and one a second")
  })
  itHoldsOutOfMemory(
    "holds older messages out of memory; chat.json still holds every message, each once",
    items,
    settledChat,
    want,
    (checkpoint, total) => assert.isBelow(checkpoint.participants.chat.length, total / 4)
  )
  itContinuesAcrossRestarts(items, settledChat, want)
  itGivesUpWritesThatNeverSucceed(items, settledChat)
  itRetriesFailedWrites(items, settledChat, "chat.json", want)
})
