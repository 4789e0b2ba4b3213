import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import * as SessionRecorder from "../src/SessionRecorder.js"
import { BOT, h264Frames, json, sample, sessionItems, tempDir } from "./recording.js"

describe("SessionRecorder's open files", () => {
  it.live("keeps at most maxOpenFiles track files open, reopening them as needed with nothing lost", () =>
    Effect.gen(function*() {
      const meeting = sample()
      const { all, key } = sessionItems(meeting.entries)
      // three participants also send H.264 screenshare frames, interleaved with everything else
      const h264 = h264Frames(key, meeting.participants, 20)
      const items = [...all.slice(0, -1)]
      h264.forEach((item, i) => items.splice(1 + Math.floor((i * (items.length - 1)) / h264.length), 0, item))
      items.push(all.at(-1)!)

      const dir = tempDir()
      const logs: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => logs.push(`${logLevel.label} ${String(message)}`))
      const recordInto = (directory: string, maxOpenFiles?: number) =>
        SessionRecorder.recordSession(
          { key, events: Stream.fromIterable(items).pipe(Stream.rechunk(3)) },
          { directory, maxOpenFiles, flushInterval: "20 millis" }
        )
      yield* recordInto(path.join(dir, "two"), 2).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      yield* recordInto(path.join(dir, "many"))

      const a = path.join(dir, "two", BOT)
      const b = path.join(dir, "many", BOT)
      for (const name of fs.readdirSync(path.join(b, "audio"))) {
        assert.isTrue(
          fs.readFileSync(path.join(a, "audio", name)).equals(fs.readFileSync(path.join(b, "audio", name))),
          name
        )
      }
      for (const { participant } of meeting.participants) {
        const file = path.join("video", `participant-${participant.id}`, "screenshare.h264")
        const expected = Array.from({ length: 20 }, (_, i) => `frame ${participant.id}.${i};`).join("")
        assert.strictEqual(fs.readFileSync(path.join(a, file), "utf8"), expected, file)
      }
      const recorder = json(path.join(a, "session.json")).recorder
      assert.strictEqual(recorder.maxOpenFiles, 2)
      assert.isAbove(recorder.handlesClosed, 0)
      assert.strictEqual(json(path.join(b, "session.json")).recorder.handlesClosed, 0)
      assert.strictEqual(logs.filter((line) => line.includes("track files in use")).length, 1)
    }).pipe(Effect.provide(NodeContext.layer)))
})
