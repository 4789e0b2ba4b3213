import { Fixtures, SessionEvent, SessionKey } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as path from "node:path"
import * as SessionRecorder from "../src/SessionRecorder.js"
import { decode, person } from "./helpers.js"
import { json, tempDir } from "./recording.js"

describe("SessionRecorder and the server's control events", () => {
  it("a Gap closes open speech in participants.json, so a speech_off lost in the outage is not counted", async () => {
    const botId = "bot-gap"
    const key = SessionKey.make(botId)
    const who = person(100)
    const message = (event: ReturnType<typeof decode>) => SessionEvent.message(key, event, 0)
    const speech = (name: "participant_events.speech_on" | "participant_events.speech_off", at: number) =>
      message(decode(Fixtures.participantEvent(name, { botId, participant: who, at })))
    const items: Array<SessionEvent.SessionEvent> = [
      new SessionEvent.SessionStarted({ session: key, at: 0, botId, recordingId: null, metadata: null }),
      message(decode(Fixtures.participantEvent("participant_events.join", { botId, participant: who, at: 0 }))),
      speech("participant_events.speech_on", 2),
      // the connection drops at 4 s (the speech_off at 5 s is lost); Recall reconnects at 30 s
      new SessionEvent.Gap({ session: key, at: 0, from: 4, to: 30 }),
      speech("participant_events.speech_on", 31),
      speech("participant_events.speech_off", 32),
      new SessionEvent.SessionEnded({ session: key, at: 0, reason: "shutdown" })
    ]
    const out = tempDir()
    await SessionRecorder.recordSession({ key, events: Stream.fromIterable(items) }, { directory: out }).pipe(
      Effect.provide(NodeContext.layer),
      Effect.runPromise
    )
    const participants = json(path.join(out, botId, "participants.json"))
    assert.deepStrictEqual(participants["100"].speaking, [{ start: 2, end: 4 }, { start: 31, end: 32 }])
    assert.strictEqual(participants["100"].talkTime, 3)
    assert.strictEqual(json(path.join(out, botId, "session.json")).gaps.length, 1)
  })
})
