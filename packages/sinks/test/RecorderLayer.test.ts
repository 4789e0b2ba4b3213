import { Decoder, EventSource, Fixtures } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import * as SessionRecorder from "../src/SessionRecorder.js"
import { BOT, tempDir } from "./recording.js"

const decode = (message: unknown) => Either.getOrThrow(Decoder.decodeEither(JSON.stringify(message)))

describe("SessionRecorder.layer", () => {
  it.live("finishes every file when its Layer closes while the meeting is still going", () =>
    Effect.gen(function*() {
      const out = tempDir()
      const ada = Fixtures.participant({ id: 100, name: "Ada Lovelace" })
      const items = [
        decode(Fixtures.participantEvent("participant_events.join", { participant: ada, at: 0.5 })),
        decode(Fixtures.audio({ samples: Fixtures.tone(330, 0, 1), at: 0 })),
        decode(Fixtures.transcript("hello from the layer", { participant: ada, at: 1 }))
      ]
      // a source that never ends, as a live server's does until it shuts down
      const live = Layer.effect(
        EventSource.EventSource,
        Effect.map(EventSource.EventSource, (source) =>
          EventSource.make(
            source.events.pipe(
              Stream.filter((item) => item._tag !== "SessionEnded"),
              Stream.concat(Stream.never)
            )
          ))
      ).pipe(Layer.provide(EventSource.fromIterable(items)))
      const dir = path.join(out, BOT)
      const tape = path.join(dir, "events.jsonl")

      yield* Effect.scoped(Effect.gen(function*() {
        // derived files are refreshed every hour here: only the final write can produce them in time
        yield* Layer.build(
          SessionRecorder.layer({ directory: out, exportInterval: "1 hour" }).pipe(Layer.provide(live))
        )
        for (let i = 0; i < 500; i++) {
          if (fs.existsSync(tape) && fs.readFileSync(tape, "utf8").trim().split("\n").length === items.length) break
          yield* Effect.sleep("20 millis")
        }
      }))

      assert.strictEqual(
        fs.readFileSync(path.join(dir, "transcript.txt"), "utf8").trim(),
        "[00:01] Ada Lovelace: hello from the layer"
      )
      const session = JSON.parse(fs.readFileSync(path.join(dir, "session.json"), "utf8"))
      assert.strictEqual(session.counts.messages, 3)
      const wav = fs.readFileSync(path.join(dir, "audio", "mixed.wav"))
      assert.strictEqual(wav.readUInt32LE(40), 32_000, "the WAV header declares the second written")
    }).pipe(Effect.provide(NodeContext.layer)))
})
