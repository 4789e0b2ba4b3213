import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as path from "node:path"
import * as Exports from "../src/Exports.js"
import * as Participants from "../src/Participants.js"
import * as SessionRecorder from "../src/SessionRecorder.js"
import * as SessionSummary from "../src/SessionSummary.js"
import * as Transcript from "../src/Transcript.js"
import * as FailingFileSystem from "./failingFileSystem.js"
import { said } from "./helpers.js"
import { BOT, json, sample, sessionItems, tempDir } from "./recording.js"

describe("Exports.renderChanged", () => {
  it("renders the files whose inputs changed, and only those", () => {
    const before: Exports.Snapshot = {
      transcript: Transcript.reduce(Transcript.empty, said("hello there", 100, 1)),
      participants: Participants.empty,
      summary: SessionSummary.empty("bot")
    }
    assert.deepStrictEqual(Object.keys(Exports.renderChanged(undefined, before)).sort(), [...Exports.FILES].sort())
    assert.deepStrictEqual(Exports.renderChanged(before, before), {})
    // a new live tail changes transcript.json only (the text, SRT and WebVTT files show finals)
    const partial = {
      ...before,
      transcript: Transcript.reduce(before.transcript, said("and th", 100, 3, { final: false }))
    }
    assert.deepStrictEqual(Object.keys(Exports.renderChanged(before, partial)), ["transcript.json"])
    const final = { ...partial, transcript: Transcript.reduce(partial.transcript, said("and then", 100, 3)) }
    assert.deepStrictEqual(
      Object.keys(Exports.renderChanged(partial, final)).sort(),
      ["transcript.json", "transcript.srt", "transcript.txt", "transcript.vtt"]
    )
    const counted = { ...final, summary: SessionSummary.addError(final.summary, 0, "x", "y") }
    assert.deepStrictEqual(Object.keys(Exports.renderChanged(final, counted)), ["session.json"])
  })
})

describe("SessionRecorder's derived files", () => {
  it.live("are rewritten only when their content changed, however often they are refreshed", () =>
    Effect.gen(function*() {
      const meeting = sample()
      const { all, key } = sessionItems(meeting.entries)
      const writes = new Map<string, number>()
      const counting: FailingFileSystem.Failing = (operation, file) => {
        if (operation === "rename") writes.set(path.basename(file), (writes.get(path.basename(file)) ?? 0) + 1)
        return false
      }
      const dir = tempDir()
      // refreshed at every flush the budget allows, while the meeting is paced over many flushes
      yield* SessionRecorder.recordSession(
        { key, events: Stream.fromIterable(all).pipe(Stream.rechunk(8), Stream.tap(() => Effect.sleep("5 millis"))) },
        { directory: dir, exportInterval: 0, flushInterval: "10 millis" }
      ).pipe(Effect.provide(FailingFileSystem.layer(counting)))

      const finals = json(path.join(dir, BOT, "transcript.json")).utterances.length
      const chats = json(path.join(dir, BOT, "chat.json")).length
      assert.strictEqual(finals, 8)
      // every content a file had was written once: the first (empty) one, then one per change
      assert.isAtMost(writes.get("transcript.txt") ?? 0, finals + 1)
      assert.isAtMost(writes.get("transcript.srt") ?? 0, finals + 1)
      assert.isAtMost(writes.get("chat.json") ?? 0, chats + 1)
      // while the summary changes with every message, so it was refreshed many times
      assert.isAbove(writes.get("session.json") ?? 0, 3 * (finals + 1))
    }).pipe(Effect.provide(NodeContext.layer)))
})
