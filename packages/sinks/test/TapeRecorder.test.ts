import { Decoder, Fixtures, SessionEvent, SessionKey, Tape } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { AppendBuffer } from "../src/internal/appendBuffer.js"
import { lineMaker } from "../src/internal/tapeLine.js"
import * as TapeRecorder from "../src/TapeRecorder.js"
import { decode } from "./helpers.js"

const key = SessionKey.make("bot-1")
const message = (text: string, receivedAt: number, position?: string) => {
  const raw = JSON.stringify(Fixtures.transcript(text, { botId: "bot-1", at: receivedAt / 1000 }))
  return SessionEvent.message(key, decode(JSON.parse(raw)), receivedAt, { raw, position })
}

describe("TapeRecorder", () => {
  it.scoped("cuts a line a kill left half-written, then appends whole lines in one write per flush", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/events.jsonl`
      const kept = Tape.formatLine(2.5, { event: "participant_events.join" })
      yield* fs.writeFileString(path, kept + "{\"at\":3,\"message\":{\"event\":\"tra")
      yield* Effect.scoped(Effect.gen(function*() {
        const tape = yield* TapeRecorder.make(path, { lines: 1 })
        yield* tape.record(message("hello", 10_000, "0007"))
        yield* tape.record(message("again", 10_500))
        assert.isAbove(yield* tape.pending, 0)
        assert.deepStrictEqual(yield* tape.committed, { bytes: kept.length, lines: 1 }, "nothing written yet")
        assert.strictEqual(Number((yield* fs.stat(path)).size), kept.length, "the cut line is gone")
        yield* tape.flush
        assert.deepStrictEqual(yield* tape.committed, { bytes: Number((yield* fs.stat(path)).size), lines: 3 })
        assert.strictEqual(yield* tape.pending, 0)
      }))
      const entries = Either.getOrThrow(Tape.parse(yield* fs.readFileString(path)))
      // every line parses; `at` goes on from the last whole line; the position stays on its line
      assert.deepStrictEqual(entries.map((e) => e.at), [2.5, 2.5, 3])
      assert.deepStrictEqual(entries.map((e) => e.position), [undefined, "0007", undefined])
      assert.strictEqual((entries[1]!.message as any).data.data.words[0].text, "hello")
    }).pipe(Effect.provide(NodeContext.layer)))

  it("property: a line appended in parts is Tape.formatLine's line, byte for byte, whatever the raw text holds", () => {
    const event = decode(Fixtures.transcript("hi", { botId: "bot-1", at: 1 }))
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(
          FastCheck.record({
            raw: FastCheck.option(
              FastCheck.oneof(
                FastCheck.string(),
                FastCheck.fullUnicodeString(),
                FastCheck.constantFrom("a\nb", "\r\n", "")
              ),
              { nil: undefined }
            ),
            position: FastCheck.option(FastCheck.string(), { nil: undefined }),
            after: FastCheck.integer({ min: 0, max: 5_000 })
          }),
          { maxLength: 20 }
        ),
        FastCheck.integer({ min: 0, max: 1_000 }),
        (messages, lastAt) => {
          const buffer = new AppendBuffer(0)
          const lineOf = lineMaker(lastAt)
          let expected = ""
          let origin: number | undefined
          let receivedAt = 10_000
          for (const { after, position, raw } of messages) {
            receivedAt += after
            origin ??= receivedAt
            const at = Math.round((lastAt + (receivedAt - origin) / 1000) * 1000) / 1000
            const item = SessionEvent.message(key, event, receivedAt, { raw, position })
            lineOf(item, buffer)
            expected += Tape.formatLine(at, raw === undefined ? Decoder.encode(event) : undefined, {
              raw,
              position
            })
          }
          const written = buffer.take() ?? []
          assert.strictEqual(Buffer.concat(written).toString("utf8"), expected)
          assert.strictEqual(buffer.pendingItems, messages.length)
        }
      )
    )
  })
})
