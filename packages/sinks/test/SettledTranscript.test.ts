// A long meeting's transcript: the recorder keeps its recent finals in memory and the rest in
// transcript.settled.jsonl, and the transcript files still hold every final, across restarts too.
import { SampleMeeting, type SessionEvent } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Exports from "../src/Exports.js"
import * as SessionRecorder from "../src/SessionRecorder.js"
import * as Transcript from "../src/Transcript.js"
import { BOT, json, sessionItems, tempDir } from "./recording.js"

const SETTLED = "transcript.settled.jsonl"
const TRANSCRIPT_FILES = ["transcript.json", "transcript.txt", "transcript.srt", "transcript.vtt"] as const

// 3 minutes of meeting: many finals, most of them more than 10 s older than the latest
const items = sessionItems(SampleMeeting.generate({ seed: 4, duration: 180, separate: false }).entries)

/** The transcript files of the events, rendered from the reducer's state (nothing moved out). */
const expected = (events: ReadonlyArray<SessionEvent.SessionEvent>) => {
  const transcript = events.reduce(Transcript.reduce, Transcript.empty)
  const files = Exports.render({ transcript, participants: { roster: {}, chat: [], at: 0 }, summary: {} as never })
  return { finals: transcript.finals.length, files: TRANSCRIPT_FILES.map((name) => files[name]) }
}

/** Records the events in small chunks with pauses, so that the recorder flushes (and moves finals out) many times. */
const paced = (events: ReadonlyArray<SessionEvent.SessionEvent>, directory: string) =>
  SessionRecorder.recordSession({
    key: items.key,
    events: Stream.fromIterable(events).pipe(
      Stream.rechunk(40),
      Stream.chunks,
      Stream.tap(() => Effect.sleep("5 millis")),
      Stream.flattenChunks
    )
  }, { directory, flushInterval: "10 millis", exportInterval: "20 millis", checkpointInterval: "20 millis" })

const transcriptFiles = (folder: string) =>
  TRANSCRIPT_FILES.map((name) => fs.readFileSync(path.join(folder, name), "utf8"))

const settledLines = (folder: string) =>
  fs.readFileSync(path.join(folder, SETTLED), "utf8").split("\n").filter((line) => line !== "")

const quiet = Logger.minimumLogLevel(LogLevel.Error)

describe("the settled transcript of a recorder", () => {
  it.live("holds the older finals out of memory; the transcript files still hold every final", () =>
    Effect.gen(function*() {
      const want = expected(items.all)
      assert.isAbove(want.finals, 40, "a meeting with many finals")
      const dir = tempDir()
      yield* paced(items.all, dir)
      const folder = path.join(dir, BOT)
      assert.deepStrictEqual(transcriptFiles(folder), want.files)
      // most finals left memory: the checkpoint's state holds the rest, the file says how much of it is its
      const settled = settledLines(folder).length
      const checkpoint = json(path.join(folder, "checkpoint.json"))
      assert.isAbove(settled, want.finals / 2)
      assert.strictEqual(settled + checkpoint.transcript.finals.length, want.finals)
      assert.strictEqual(checkpoint.settled.lines, settled)
      assert.strictEqual(checkpoint.settled.bytes, fs.statSync(path.join(folder, SETTLED)).size)
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  it.live("a restart continues from it: cut back to the checkpoint, or rebuilt from the logs without one", () =>
    Effect.gen(function*() {
      const want = expected(items.all)
      const messages = items.all.slice(1, -1)
      const half = Math.floor(messages.length / 2)
      for (const damage of ["a line after the checkpoint", "no checkpoint"] as const) {
        const dir = tempDir()
        const folder = path.join(dir, BOT)
        yield* paced([items.start, ...messages.slice(0, half)], dir)
        const settled = settledLines(folder)
        assert.isAbove(settled.length, 0)
        if (damage === "no checkpoint") fs.rmSync(path.join(folder, "checkpoint.json"))
        // as if finals were moved out after the last checkpoint and the recorder was killed: the restart replays
        // them from the tape, so the file is cut back to what the checkpoint counted
        else {
          fs.appendFileSync(path.join(folder, SETTLED), settled.at(-1) + "\n")
          yield* paced([items.start], dir)
          assert.deepStrictEqual(settledLines(folder), settled)
        }
        yield* paced([items.start, ...messages.slice(half), items.end], dir)
        assert.deepStrictEqual(transcriptFiles(folder), want.files, damage)
        const checkpoint = json(path.join(folder, "checkpoint.json"))
        assert.strictEqual(settledLines(folder).length + checkpoint.transcript.finals.length, want.finals, damage)
      }
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))
})
