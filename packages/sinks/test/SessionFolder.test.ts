import { EventSource, Fixtures, type RecallEvent } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as SessionFolder from "../src/SessionFolder.js"
import * as SessionRecorder from "../src/SessionRecorder.js"
import { decode, person } from "./helpers.js"
import { json, tempDir } from "./recording.js"

const sha = (key: string) =>
  Crypto.createHash("sha256").update(key, "utf8").digest("hex").slice(0, SessionFolder.HASH_LENGTH)

/** What any file system takes as one ordinary entry of a folder. */
const assertSafe = (name: string) => {
  assert.match(name, /^[A-Za-z0-9._~-]+$/, JSON.stringify(name))
  assert.notInclude([".", ".."], name)
  assert.isAtMost(Buffer.byteLength(name, "utf8"), 255)
}

const LONG = "k".repeat(150) + "/" + "é".repeat(149)
const TRICKY = ["a/b", "a_b", "a\0b", ".", "..", "会議", "会话", "議事録", LONG, "", "x".repeat(101), "~"]

describe("SessionFolder.nameOf", () => {
  it("keeps a safe key as it is", () => {
    for (const key of ["5f0c2a7e-4a51-4d0b-9c8e-6a3f1d2b9e10", "a_b", "A.b-C_9", "...", "-", "x".repeat(100)]) {
      assert.strictEqual(SessionFolder.nameOf(key), key)
    }
  })

  it("gives any other key a readable prefix, ~ and 32 hex digits of its SHA-256", () => {
    assert.strictEqual(SessionFolder.nameOf("a/b"), `a_b~${sha("a/b")}`)
    assert.match(SessionFolder.nameOf("a/b"), /^a_b~[0-9a-f]{32}$/)
    assert.strictEqual(SessionFolder.nameOf("a\0b"), `a_b~${sha("a\0b")}`)
    assert.strictEqual(SessionFolder.nameOf("."), `.~${sha(".")}`)
    assert.strictEqual(SessionFolder.nameOf(".."), `..~${sha("..")}`)
    assert.strictEqual(SessionFolder.nameOf("bot: 7 / 8"), `bot_7_8~${sha("bot: 7 / 8")}`)
    assert.strictEqual(SessionFolder.nameOf("会議"), `_~${sha("会議")}`)
    assert.strictEqual(SessionFolder.nameOf("x".repeat(101)), `${"x".repeat(64)}~${sha("x".repeat(101))}`)
    const long = SessionFolder.nameOf(LONG)
    assert.strictEqual(long, `${"k".repeat(64)}~${sha(LONG)}`)
  })

  it("never gives two of the tricky keys the same name, and every name is one safe path segment", () => {
    const names = TRICKY.map(SessionFolder.nameOf)
    assert.strictEqual(new Set(names).size, TRICKY.length, names.join(" "))
    names.forEach(assertSafe)
  })

  it("tells apart keys that differ only in lone surrogates (JSON can carry them; UTF-8 cannot)", () => {
    const keys = ["\uD800", "\uD801", "\uDC00", "a\uD800", "\uFFFD"]
    const names = keys.map(SessionFolder.nameOf)
    assert.strictEqual(new Set(names).size, keys.length, names.join(" "))
    names.forEach(assertSafe)
  })

  it("property: distinct keys get distinct names, each a safe name of at most 255 bytes", () => {
    const key = FastCheck.oneof(
      FastCheck.string({ unit: "binary", maxLength: 400 }),
      FastCheck.string({
        unit: FastCheck.constantFrom("a", "_", "/", ".", "\0", "~", "-", "会", "\uD800", "\uDC01"),
        maxLength: 8
      }),
      FastCheck.stringMatching(/^[A-Za-z0-9._-]{1,120}$/)
    )
    FastCheck.assert(
      FastCheck.property(FastCheck.uniqueArray(key, { minLength: 2, maxLength: 40 }), (keys) => {
        const names = keys.map(SessionFolder.nameOf)
        assert.strictEqual(new Set(names).size, keys.length)
        names.forEach(assertSafe)
        for (const [i, k] of keys.entries()) {
          assert.strictEqual(names[i] === k, SessionFolder.isSafe(k), `a key is its own name exactly when safe`)
        }
      }),
      { numRuns: 500 }
    )
  })
})

const meetingOf = (botId: string, from: number, to: number): ReadonlyArray<RecallEvent.RecallEvent> =>
  Array.from(
    { length: to - from },
    (_, i) => decode(Fixtures.transcript(`utterance ${from + i}`, { botId, participant: person(100), at: from + i }))
  )

const recordAll = (out: string, events: ReadonlyArray<RecallEvent.RecallEvent>) =>
  SessionRecorder.run({ directory: out }).pipe(
    Effect.provide(Layer.mergeAll(EventSource.fromIterable(events), NodeContext.layer)),
    Effect.runPromise
  )

describe("session folders of the recorder", () => {
  it("records every tricky key into a folder of its own, session.json naming the real key; a restart continues it", async () => {
    const out = tempDir()
    // interleaved, as concurrent meetings arrive
    const first = TRICKY.filter((key) => key !== "").map((key) => meetingOf(key, 0, 2))
    await recordAll(out, first[0]!.flatMap((_, i) => first.map((meeting) => meeting[i]!)))

    const keys = TRICKY.filter((key) => key !== "")
    const folders = fs.readdirSync(out).sort()
    assert.deepStrictEqual(folders, keys.map(SessionRecorder.folderName).sort())
    for (const key of keys) {
      const dir = path.join(out, SessionRecorder.folderName(key))
      const session = json(path.join(dir, "session.json"))
      assert.strictEqual(session.session, key)
      assert.strictEqual(session.botId, key)
      assert.strictEqual(session.counts.messages, 2, JSON.stringify(key))
      assert.strictEqual(fs.readFileSync(path.join(dir, "events.jsonl"), "utf8").trim().split("\n").length, 2)
    }

    // the recorder starts again and the meetings go on: same folders, one more run, nothing lost
    const second = keys.map((key) => meetingOf(key, 2, 3))
    await recordAll(out, second.flat())
    assert.deepStrictEqual(fs.readdirSync(out).sort(), folders)
    for (const key of keys) {
      const dir = path.join(out, SessionRecorder.folderName(key))
      const session = json(path.join(dir, "session.json"))
      assert.strictEqual(session.session, key)
      assert.strictEqual(session.runs.length, 2)
      assert.strictEqual(session.counts.messages, 3)
      assert.deepStrictEqual(
        json(path.join(dir, "transcript.json")).utterances.map((u: { text: string }) => u.text),
        ["utterance 0", "utterance 1", "utterance 2"]
      )
    }
  })
})
