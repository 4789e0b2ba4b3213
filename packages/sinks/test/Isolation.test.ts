import { Decoder, EventSource, Fixtures } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as fs from "node:fs"
import * as path from "node:path"
import * as SessionRecorder from "../src/SessionRecorder.js"
import { decode, person } from "./helpers.js"
import { json, tempDir } from "./recording.js"

const meetingOf = (botId: string, bad: boolean) => {
  const who = person(100)
  const events = [
    decode(Fixtures.participantEvent("participant_events.join", { botId, participant: who, at: 0 })),
    decode(Fixtures.transcript("hello there", { botId, participant: who, at: 1 })),
    ...Array.from({ length: 10 }, (_, i) => decode(Fixtures.audio({ botId, at: i / 10 }))),
    decode(Fixtures.video({ botId, participant: who, at: 0.5 })),
    decode(Fixtures.video({ botId, participant: who, at: 1, format: "h264", type: "screenshare" })),
    decode({ event: "bot.status_change", data: { recording: { id: "r" }, bot: { id: botId }, data: {} } })
  ]
  // a frame whose buffer is base64 but no PNG
  if (bad) events.push(decode(Fixtures.video({ botId, participant: who, at: 1.5, buffer: "aGVsbG8gd29ybGQ=" })))
  return events
}

describe("SessionRecorder with several sessions", () => {
  it("records sessions concurrently; one session's failures stay in its own session.json and the log", async () => {
    const out = tempDir()
    // session "broken": its mixed.wav cannot be opened (a folder sits where the file goes)
    fs.mkdirSync(path.join(out, "broken", "audio", "mixed.wav"), { recursive: true })
    const ok = meetingOf("ok", false)
    const broken = meetingOf("broken", true)
    const failure = new Decoder.DecodeError({ reason: "InvalidJson", path: "", issue: "Unexpected end", bytes: 7 })
    const items: Array<EventSource.Replayed> = [
      ...ok.flatMap((event, i) => [event, broken[i]!]),
      broken.at(-1)!,
      failure
    ]
    const logs: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => logs.push(`${logLevel.label} ${String(message)}`))
    await SessionRecorder.run({ directory: out }).pipe(
      Effect.provide(Layer.mergeAll(EventSource.fromIterable(items), NodeContext.layer)),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
      Effect.runPromise
    )

    const good = json(path.join(out, "ok", "session.json"))
    assert.deepStrictEqual(good.errors, [])
    assert.strictEqual(good.counts.messages, ok.length)
    assert.deepStrictEqual(good.counts.unknownEvents, { "bot.status_change": 1 })
    assert.strictEqual(fs.statSync(path.join(out, "ok", "audio", "mixed.wav")).size, 44 + 32_000)
    assert.deepStrictEqual(fs.readdirSync(path.join(out, "ok", "video", "participant-100", "webcam")), ["500.png"])
    assert.isAbove(fs.statSync(path.join(out, "ok", "video", "participant-100", "screenshare.h264")).size, 0)

    const bad = json(path.join(out, "broken", "session.json"))
    assert.deepStrictEqual(bad.errors.map((e: any) => e.source).sort(), ["audio/mixed.wav", "video"])
    assert.strictEqual(bad.counts.errors, 2)
    assert.strictEqual(bad.counts.decodeFailures, 1)
    assert.include(bad.decodeFailures[0].message, "InvalidJson")
    assert.strictEqual(bad.video.badFrames, 1)
    // the rest of the broken session is recorded all the same
    assert.strictEqual(
      fs.readFileSync(path.join(out, "broken", "transcript.txt"), "utf8"),
      "[00:01] P100: hello there\n"
    )
    assert.deepStrictEqual(fs.readdirSync(path.join(out, "broken", "video", "participant-100", "webcam")), ["500.png"])

    assert.isTrue(logs.some((line) => line.startsWith("WARN") && line.includes("session broken: video")))
    assert.isTrue(logs.some((line) => line.includes("session broken: audio/mixed.wav")))
    assert.isFalse(logs.some((line) => line.includes("session ok")))
  })
})
