import { Decoder, Fixtures, RecallEvent } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const decodeOk = (message: unknown): RecallEvent.RecallEvent => {
  const result = Decoder.decodeEither(JSON.stringify(message))
  if (Either.isLeft(result)) assert.fail(result.left.message)
  return result.right
}

const decodeErr = (frame: string | Uint8Array): Decoder.DecodeError => {
  const result = Decoder.decodeEither(frame)
  if (Either.isRight(result)) assert.fail(`expected a DecodeError, got ${result.right.event}`)
  return result.left
}

/** Deep copy with a change applied at a path. */
const edit = (message: unknown, change: (m: any) => void): unknown => {
  const copy = structuredClone(message)
  change(copy)
  return copy
}

describe("Decoder", () => {
  describe("every known event", () => {
    for (const [name, message] of Object.entries(Fixtures.everyEvent())) {
      it(`decodes ${name} to its own type`, () => {
        const event = decodeOk(message)
        assert.strictEqual(event.event, name)
        // decoded again as accepted text, unchecked: the same value
        assert.deepStrictEqual(Decoder.decodeAcceptedEither(JSON.stringify(message)), Either.right(event))
      })
    }
  })

  it("decodes binary frames like text frames", () => {
    const message = Fixtures.transcript("hello there")
    const bytes = new TextEncoder().encode(JSON.stringify(message))
    const event = Either.getOrThrow(Decoder.decodeEither(bytes))
    if (event.event !== "transcript.data") assert.fail(`decoded as ${event.event}`)
    assert.deepStrictEqual(event.data.data.words.map((w) => w.text), ["hello", "there"])
  })

  it("narrows the payload on switch (event.event)", () => {
    const texts: Array<string> = []
    for (const message of Object.values(Fixtures.everyEvent())) {
      const event = decodeOk(message)
      switch (event.event) {
        case "transcript.data":
          texts.push(event.data.data.words.map((w) => w.text).join(" "))
          break
        case "participant_events.chat_message":
          texts.push(event.data.data.data.text)
          break
        case "video_separate_png.data":
          texts.push(event.data.data.type)
          break
        case "unknown":
          texts.push(event.name)
          break
      }
    }
    assert.deepStrictEqual(texts, ["hello", "we shipped the parser", "webcam"])
  })

  describe("variants the contract allows", () => {
    const join = Fixtures.participantEvent("participant_events.join")

    it("bot missing", () => {
      const event = decodeOk(edit(join, (m) => delete m.data.bot))
      assert.strictEqual(event.event, "participant_events.join")
    })

    it("bot null", () => {
      const event = decodeOk(edit(join, (m) => (m.data.bot = null)))
      assert.isTrue(event.event === "participant_events.join" && event.data.bot === null)
    })

    it("artifact key audio_mixed or audio_mixed_raw, or neither", () => {
      assert.strictEqual(decodeOk(Fixtures.audio({ artifactKey: "audio_mixed" })).event, "audio_mixed_raw.data")
      assert.strictEqual(decodeOk(Fixtures.audio({ artifactKey: "audio_mixed_raw" })).event, "audio_mixed_raw.data")
      assert.strictEqual(
        decodeOk(edit(Fixtures.audio(), (m) => delete m.data.audio_mixed)).event,
        "audio_mixed_raw.data"
      )
    })

    it("metadata null, missing, or with values of any JSON type", () => {
      decodeOk(edit(join, (m) => (m.data.recording.metadata = null)))
      decodeOk(edit(join, (m) => delete m.data.recording.metadata))
      const event = decodeOk(
        edit(join, (m) => (m.data.bot.metadata = { n: 1, ok: true, list: [1, "a"], nested: { x: null } }))
      )
      assert.isTrue(event.event === "participant_events.join" && event.data.bot?.metadata?.n === 1)
    })

    it("nullable participant id, is_host and extra_data; optional email", () => {
      const event = decodeOk(
        edit(join, (m) => {
          m.data.data.participant.id = null
          m.data.data.participant.is_host = null
          m.data.data.participant.extra_data = null
          delete m.data.data.participant.email
        })
      )
      assert.isTrue(event.event === "participant_events.join" && event.data.data.participant.id === null)
      decodeOk(edit(join, (m) => (m.data.data.participant.email = "ada@example.com")))
    })

    it("optional language_code, present or null", () => {
      decodeOk(Fixtures.transcript("hi", { languageCode: "en" }))
      decodeOk(Fixtures.transcript("hi", { languageCode: null }))
      decodeOk(Fixtures.transcript("hi"))
    })

    it("word timestamps null, or with absolute", () => {
      const event = decodeOk(
        edit(Fixtures.transcript("a b"), (m) => {
          m.data.data.words[0].start_timestamp = null
          m.data.data.words[0].end_timestamp = null
          m.data.data.words[1].start_timestamp.absolute = "2026-11-20T15:00:00.400000Z"
        })
      )
      assert.isTrue(event.event === "transcript.data" && event.data.data.words[0]!.start_timestamp === null)
    })

    it("empty audio buffer", () => {
      const event = decodeOk(Fixtures.audio({ separate: true, buffer: "" }))
      assert.strictEqual(event.event, "audio_separate_raw.data")
    })

    it("unknown extra fields anywhere are kept but never rejected", () => {
      const event = decodeOk(
        edit(join, (m) => {
          m.extra = 1
          m.data.extra = { a: 1 }
          m.data.data.extra = []
          m.data.data.participant.nickname = "ada"
          m.data.data.timestamp.zone = "UTC"
        })
      )
      assert.strictEqual(event.event, "participant_events.join")
    })

    it("a negative relative time", () => {
      decodeOk(Fixtures.participantEvent("participant_events.join", { at: -0.25 }))
    })

    it("an unknown event name becomes an UnknownEvent with its raw data", () => {
      const event = decodeOk({ event: "meeting.ended", data: { recording: { id: "r" }, reason: "host" } })
      assert.strictEqual(event.event, "unknown")
      if (event.event === "unknown") {
        assert.strictEqual(event.name, "meeting.ended")
        assert.deepStrictEqual(event.data, { recording: { id: "r" }, reason: "host" })
        assert.strictEqual(RecallEvent.nameOf(event), "meeting.ended")
      }
    })
  })

  describe("malformed input gives a typed error", () => {
    it("not JSON", () => {
      const error = decodeErr("{not json")
      assert.strictEqual(error._tag, "DecodeError")
      assert.strictEqual(error.reason, "InvalidJson")
      assert.isUndefined(error.event)
    })

    it("invalid UTF-8 bytes that are not JSON", () => {
      assert.strictEqual(decodeErr(new Uint8Array([0xff, 0xfe, 0x00])).reason, "InvalidJson")
    })

    it("JSON of the wrong shape", () => {
      for (const frame of ["[]", "null", "42", "\"text\"", "{}", "{\"event\": 7}"]) {
        const error = decodeErr(frame)
        assert.strictEqual(error.reason, "InvalidShape", frame)
      }
    })

    it("wrong types name the event and the path", () => {
      const error = decodeErr(
        JSON.stringify(edit(Fixtures.transcript("a b c"), (m) => (m.data.data.words[1].text = 5)))
      )
      assert.strictEqual(error.reason, "InvalidShape")
      assert.strictEqual(error.event, "transcript.data")
      assert.strictEqual(error.path, "data.data.words.1.text")
      assert.include(error.message, "data.data.words.1.text")
      assert.include(error.issue, "Expected string")
    })

    it("a missing recording, a bad video type, a non-finite number", () => {
      const join = Fixtures.participantEvent("participant_events.join")
      assert.strictEqual(decodeErr(JSON.stringify(edit(join, (m) => delete m.data.recording))).path, "data.recording")
      assert.strictEqual(
        decodeErr(JSON.stringify(edit(Fixtures.video(), (m) => (m.data.data.type = "camera")))).path,
        "data.data.type"
      )
      // JSON has no Infinity; 1e400 parses to it
      const frame = JSON.stringify(join).replace("\"relative\":0", "\"relative\":1e400")
      assert.strictEqual(decodeErr(frame).path, "data.data.timestamp.relative")
    })

    it("as an Effect, in the error channel", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Decoder.decode("nope"))
        assert.strictEqual(error.reason, "InvalidJson")
      }).pipe(Effect.runSync))

    it("never throws on hostile input, and says what each one is", () => {
      const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth)
      const cases: ReadonlyArray<readonly [Decoder.Frame, string]> = [
        ["", "InvalidJson"],
        [" ", "InvalidJson"],
        ["{\"event\":\"transcript.data\"}", "InvalidShape data"],
        ["{\"event\":\"transcript.data\",\"data\":null}", "InvalidShape data"],
        ["{\"event\":\"__proto__\",\"data\":{}}", "unknown __proto__"],
        ["{\"event\":\"constructor\",\"data\":1}", "unknown constructor"],
        ["{\"event\":\"audio_mixed_raw.data\",\"data\":{\"data\":{\"buffer\":null}}}", "InvalidShape data.data.buffer"],
        ["[".repeat(10_000), "InvalidJson"],
        [new Uint8Array(0), "InvalidJson"],
        // a value too deep for the parser to describe: this used to throw a RangeError out of the decoder
        [`{"event":"transcript.data","data":${nested(50_000)}}`, "InvalidShape"],
        [`{"event":"transcript.data","data":{"data":{"words":[{"text":${nested(50_000)}}]}}}`, "InvalidShape"],
        // the same depth where nothing reads it is fine
        [`{"event":"whatever","data":${nested(50_000)}}`, "unknown whatever"]
      ]
      for (const [input, expected] of cases) {
        const result = Decoder.decodeEither(input)
        const outcome = Either.match(result, {
          onLeft: (error) => `${error.reason} ${error.path}`.trim(),
          onRight: (event) => `${event.event} ${event.event === "unknown" ? event.name : ""}`.trim()
        })
        assert.strictEqual(outcome, expected, typeof input === "string" ? input.slice(0, 80) : "bytes")
      }
    })

    it("cuts an issue that quotes a huge value", () => {
      const frame = JSON.stringify(edit(Fixtures.transcript("a"), (m) => (m.data.data.words = "x".repeat(100_000))))
      const error = decodeErr(frame)
      assert.strictEqual(error.path, "data.data.words")
      assert.isAtMost(error.issue.length, Decoder.MAX_ISSUE_LENGTH + 20)
      assert.match(error.issue, /…\(\d+ chars\)$/)
      assert.strictEqual(error.bytes, frame.length)
    })

    it("internalError stands for a failure while handling one frame", () => {
      const error = Decoder.internalError(new TypeError("x is not a function"), 12)
      assert.strictEqual(error.reason, "InternalError")
      assert.strictEqual(error.bytes, 12)
      assert.include(error.message, "TypeError: x is not a function")
      // a cause whose conversion to text throws still gives an error
      const unprintable = Object.create(null)
      assert.include(Decoder.internalError(unprintable, 0).issue, "unknown failure")
    })
  })

  describe("encoding", () => {
    it("round-trips every event to the same JSON", () => {
      for (const message of Object.values(Fixtures.everyEvent())) {
        const event = decodeOk(message)
        assert.deepStrictEqual(JSON.parse(Decoder.encodeJson(event)), message)
      }
    })

    it("gives an unknown event its wire name back", () => {
      const message = { event: "bot.status_change", data: { code: "done" } }
      assert.deepStrictEqual(JSON.parse(Decoder.encodeJson(decodeOk(message))), message)
    })
  })
})

const shared = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../shared/fixtures")

describe.runIf(fs.existsSync(shared))("cross-check against the shared fixtures", () => {
  it("every file in fixtures/events decodes to the event it is named after", () => {
    const dir = path.join(shared, "events")
    const files = fs.readdirSync(dir).filter((f) => f.endsWith(".json"))
    assert.strictEqual(files.length, RecallEvent.eventNames.length)
    for (const file of files) {
      const event = decodeOk(JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")))
      assert.strictEqual(event.event, file.replace(/\.json$/, ""))
    }
  })

  it("all 611 messages of the sample meeting decode", () => {
    const lines = fs.readFileSync(path.join(shared, "sample-meeting.jsonl"), "utf8").trim().split("\n")
    assert.strictEqual(lines.length, 611)
    const names = new Set<string>()
    for (const line of lines) names.add(decodeOk(JSON.parse(line).message).event)
    assert.isFalse(names.has("unknown"))
  })
})

describe("RecallEvent accessors", () => {
  it("times an event: when it starts (relativeTimeOf) and the latest time it vouches for (latestTimeOf)", () => {
    const final = decodeOk(Fixtures.transcript("one two three", { at: 4, duration: 3 }))
    assert.strictEqual(RecallEvent.relativeTimeOf(final), 4)
    assert.strictEqual(RecallEvent.latestTimeOf(final), 7)
    const untimed = decodeOk(
      edit(Fixtures.transcript("a b"), (m) => {
        m.data.data.words[1].end_timestamp = null
        m.data.data.words[1].start_timestamp.relative = 9
      })
    )
    assert.strictEqual(RecallEvent.latestTimeOf(untimed), 9)
    const join = decodeOk(Fixtures.participantEvent("participant_events.join", { at: 2.5 }))
    assert.strictEqual(RecallEvent.relativeTimeOf(join), 2.5)
    assert.strictEqual(RecallEvent.latestTimeOf(join), 2.5)
    const chunk = decodeOk(Fixtures.audio({ samples: new Int16Array(3200), at: 5 }))
    assert.strictEqual(RecallEvent.relativeTimeOf(chunk), 5)
    assert.closeTo(RecallEvent.latestTimeOf(chunk)!, 5.2, 1e-9)
    const unknown = decodeOk({ event: "bot.done", data: {} })
    assert.isUndefined(RecallEvent.latestTimeOf(unknown))
    assert.isUndefined(RecallEvent.relativeTimeOf(unknown))
  })
})
