import { Audio, Decoder, RecallEvent, SampleMeeting, SessionKey, Tape, Video } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Zlib from "node:zlib"
import * as PngEncode from "../src/internal/pngEncode.js"
import * as PyRandom from "../src/internal/random.js"

// The reference fixture lives next to the work tree, not in it: a user's clone has no ../shared.
const fixtures = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../../../shared/fixtures")
const fixtureTape = Path.join(fixtures, "sample-meeting.jsonl")
const fixtureTruth = Path.join(fixtures, "sample-meeting.truth.json")
const hasFixture = Fs.existsSync(fixtureTape) && Fs.existsSync(fixtureTruth)

const decodeAll = (entries: ReadonlyArray<Tape.TapeEntry>): Array<RecallEvent.RecallEvent> =>
  entries.map((entry, i) => {
    const result = Decoder.decodeEither(JSON.stringify(entry.message))
    if (Either.isLeft(result)) assert.fail(`entry ${i}: ${result.left.message}`)
    return result.right
  })

const ofType = <N extends RecallEvent.EventName>(
  events: ReadonlyArray<RecallEvent.RecallEvent>,
  name: N
): Array<RecallEvent.EventOf<N>> => events.filter((event): event is RecallEvent.EventOf<N> => event.event === name)

const countByEvent = (events: ReadonlyArray<RecallEvent.RecallEvent>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const event of events) {
    const name = RecallEvent.nameOf(event)
    counts[name] = (counts[name] ?? 0) + 1
  }
  return counts
}

// Power of one frequency in a block of samples (Goertzel).
const power = (samples: Int16Array, frequency: number): number => {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / Audio.SAMPLE_RATE)
  let previous = 0
  let beforePrevious = 0
  for (const sample of samples) {
    const current = sample + coefficient * previous - beforePrevious
    beforePrevious = previous
    previous = current
  }
  return previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious
}

const dominant = (samples: Int16Array): number => {
  const candidates = Object.values(SampleMeeting.frequencies)
  return candidates.reduce((best, f) => power(samples, f) > power(samples, best) ? f : best, candidates[0]!)
}

const speakerAt = (turns: ReadonlyArray<SampleMeeting.Turn>, at: number): number | undefined =>
  turns.find((turn) => turn.start <= at && at < turn.end)?.participantId

// Deep equality of parsed JSON, with numbers equal within 1e-9 and every string (buffers included) identical.
const assertJsonClose = (actual: unknown, expected: unknown, path: string): void => {
  if (typeof expected === "number") {
    assert.strictEqual(typeof actual, "number", path)
    assert.closeTo(actual as number, expected, 1e-9, path)
  } else if (Array.isArray(expected)) {
    assert.isTrue(Array.isArray(actual), path)
    assert.strictEqual((actual as Array<unknown>).length, expected.length, path)
    expected.forEach((item, i) => assertJsonClose((actual as Array<unknown>)[i], item, `${path}[${i}]`))
  } else if (typeof expected === "object" && expected !== null) {
    assert.isTrue(typeof actual === "object" && actual !== null && !Array.isArray(actual), path)
    assert.deepStrictEqual(Object.keys(actual as object), Object.keys(expected), path)
    for (const [key, value] of Object.entries(expected)) {
      assertJsonClose((actual as Record<string, unknown>)[key], value, `${path}.${key}`)
    }
  } else {
    assert.strictEqual(actual, expected, path)
  }
}

describe("SampleMeeting", () => {
  it.skipIf(!hasFixture)("reproduces the reference fixture of meetgen.py entry for entry", () => {
    const expected = Fs.readFileSync(fixtureTape, "utf8").split("\n").filter((line) => line.trim() !== "")
    const truth = JSON.parse(Fs.readFileSync(fixtureTruth, "utf8")) as {
      readonly turns: ReadonlyArray<readonly [number, number, number]>
      readonly messages: number
    }
    const meeting = SampleMeeting.generate(SampleMeeting.FIXTURE)
    const actual = SampleMeeting.toJsonl(meeting).split("\n").filter((line) => line !== "")
    assert.strictEqual(actual.length, truth.messages)
    assert.strictEqual(actual.length, expected.length)
    actual.forEach((line, i) => assertJsonClose(JSON.parse(line), JSON.parse(expected[i]!), `line ${i + 1}`))
    assert.deepStrictEqual(
      meeting.turns.map((turn) => [turn.participantId, turn.start, turn.end]),
      truth.turns.map((turn) => [...turn])
    )
  })

  it("builds messages that all decode to known events, with the default mix of events", () => {
    const meeting = SampleMeeting.generate()
    const events = decodeAll(meeting.entries)
    // Counts of `python3 meetgen.py` with no options.
    assert.deepStrictEqual(countByEvent(events), {
      "audio_mixed_raw.data": 300,
      "participant_events.chat_message": 1,
      "participant_events.join": 3,
      "participant_events.leave": 1,
      "participant_events.screenshare_off": 1,
      "participant_events.screenshare_on": 1,
      "participant_events.speech_off": 8,
      "participant_events.speech_on": 8,
      "participant_events.webcam_on": 1,
      "transcript.data": 8,
      "transcript.partial_data": 8
    })
    assert.strictEqual(meeting.entries.length, 340)
    assert.strictEqual(meeting.turns.length, 8)
  })

  it("adds separate audio and webcam frames when asked", () => {
    const events = decodeAll(SampleMeeting.generate(SampleMeeting.FIXTURE).entries)
    const counts = countByEvent(events)
    assert.strictEqual(events.length, 611)
    assert.strictEqual(counts["audio_separate_raw.data"], 214)
    assert.strictEqual(counts["video_separate_png.data"], 57)
    assert.isUndefined(counts["unknown"])
  })

  it("sorts entries by time and keeps messages in their session", () => {
    const meeting = SampleMeeting.generate({ ...SampleMeeting.FIXTURE, botId: "bot-under-test", recordingId: "rec-9" })
    for (let i = 1; i < meeting.entries.length; i++) {
      assert.isAtMost(meeting.entries[i - 1]!.at, meeting.entries[i]!.at)
    }
    for (const event of decodeAll(meeting.entries)) {
      assert.deepStrictEqual(SessionKey.fromEvent(event), Option.some(SessionKey.make("bot-under-test")))
      assert.strictEqual((event.data as { recording: { id: string } }).recording.id, "rec-9")
    }
  })

  it("is deterministic: the same seed gives the same tape, another seed other turns", () => {
    const options = { seed: 5, duration: 20, separate: true, video: true }
    assert.strictEqual(
      SampleMeeting.toJsonl(SampleMeeting.generate(options)),
      SampleMeeting.toJsonl(SampleMeeting.generate(options))
    )
    assert.notDeepEqual(
      SampleMeeting.generate({ ...options, seed: 6 }).turns,
      SampleMeeting.generate(options).turns
    )
  })

  it("keeps turns apart, in round robin, inside the meeting", () => {
    const meeting = SampleMeeting.generate({ seed: 11, duration: 90 })
    const ids = meeting.participants.map((p) => p.participant.id)
    assert.deepStrictEqual(ids, [100, 200, 300])
    assert.isAbove(meeting.turns.length, 10)
    meeting.turns.forEach((turn, i) => {
      assert.strictEqual(turn.participantId, ids[i % 3])
      assert.isAtLeast(turn.end - turn.start, 1.5 - 1e-9)
      assert.isAtMost(turn.end, 90 - 2)
      if (i > 0) assert.isAtLeast(turn.start - meeting.turns[i - 1]!.end, 0.3 - 1e-9)
    })
  })

  it("sends mixed audio that covers the whole meeting, chunk after chunk", () => {
    for (const options of [{}, { duration: 12.34, chunkMs: 40 }]) {
      const meeting = SampleMeeting.generate(options)
      const chunks = ofType(decodeAll(meeting.entries), "audio_mixed_raw.data")
      let expectedStart = 0
      let total = 0
      for (const chunk of chunks) {
        assert.closeTo(chunk.data.data.timestamp.relative, expectedStart, 1e-6)
        expectedStart = Audio.endOf(chunk)
        total += Audio.durationOf(chunk)
      }
      assert.closeTo(total, meeting.options.duration, meeting.options.chunkMs / 1000)
      assert.isAtMost(total, meeting.options.duration + 1e-9)
    }
  })

  it("makes each participant speak its own tone during its turns, and nothing else", () => {
    const meeting = SampleMeeting.generate({ seed: 3, duration: 40, separate: true })
    const events = decodeAll(meeting.entries)
    let voiced = 0
    for (const chunk of ofType(events, "audio_mixed_raw.data")) {
      const samples = Either.getOrThrow(Audio.pcm(chunk))
      const speaker = speakerAt(meeting.turns, chunk.data.data.timestamp.relative)
      if (speaker === undefined) {
        assert.isTrue(samples.every((s) => s === 0), `silence at ${chunk.data.data.timestamp.relative}`)
      } else {
        voiced++
        assert.strictEqual(dominant(samples), SampleMeeting.frequencies[speaker])
        assert.isAtLeast(Math.max(...samples), SampleMeeting.AMPLITUDE - 10)
      }
    }
    const separate = ofType(events, "audio_separate_raw.data")
    assert.strictEqual(separate.length, voiced)
    for (const chunk of separate) {
      const id = chunk.data.data.participant.id!
      assert.strictEqual(speakerAt(meeting.turns, chunk.data.data.timestamp.relative), id)
      assert.strictEqual(dominant(Either.getOrThrow(Audio.pcm(chunk))), SampleMeeting.frequencies[id])
    }
  })

  it("transcribes each turn with words inside it, a chat after turn 3 and a screenshare during turn 4", () => {
    const meeting = SampleMeeting.generate({ seed: 2 })
    const events = decodeAll(meeting.entries)
    const finals = ofType(events, "transcript.data")
    const partials = ofType(events, "transcript.partial_data")
    assert.strictEqual(finals.length, meeting.turns.length)
    finals.forEach((final, i) => {
      const turn = meeting.turns[i]!
      const words = final.data.data.words
      assert.strictEqual(final.data.data.participant.id, turn.participantId)
      assert.isAtLeast(words.length, 2)
      assert.closeTo(words[0]!.start_timestamp!.relative, turn.start, 1e-9)
      assert.closeTo(words[words.length - 1]!.end_timestamp!.relative, turn.end, 1e-3)
      assert.deepStrictEqual(partials[i]!.data.data.words, words.slice(0, Math.floor(words.length / 2)))
    })
    const [chat] = ofType(events, "participant_events.chat_message")
    assert.strictEqual(chat!.data.data.participant.id, meeting.turns[2]!.participantId)
    assert.closeTo(chat!.data.data.timestamp.relative, meeting.turns[2]!.end + 0.3, 1e-6)
    const [on] = ofType(events, "participant_events.screenshare_on")
    const [off] = ofType(events, "participant_events.screenshare_off")
    assert.strictEqual(on!.data.data.timestamp.relative, meeting.turns[3]!.start)
    assert.strictEqual(off!.data.data.timestamp.relative, meeting.turns[3]!.end)
  })

  it("sends webcam frames at 2 fps as real 8x6 PNGs", () => {
    const frames = ofType(decodeAll(SampleMeeting.generate({ video: true }).entries), "video_separate_png.data")
    assert.strictEqual(frames.length, 57)
    frames.forEach((frame, i) => {
      const f = i + 3
      assert.strictEqual(frame.data.data.timestamp.relative, f / 2)
      assert.strictEqual(frame.data.data.type, "webcam")
      assert.strictEqual(frame.data.data.participant.id, 100)
      const { bytes, size } = Either.getOrThrow(Video.png(frame))
      assert.deepStrictEqual(Array.from(bytes.subarray(0, 8)), [...Video.PNG_SIGNATURE])
      assert.deepStrictEqual(size, { width: 8, height: 6 })
      // Walk the chunks: IHDR, IDAT, IEND, each with a correct CRC.
      const view = Buffer.from(bytes)
      const types: Array<string> = []
      let idat = Buffer.alloc(0)
      for (let at = 8; at < view.length;) {
        const length = view.readUInt32BE(at)
        const type = view.toString("latin1", at + 4, at + 8)
        const data = view.subarray(at + 8, at + 8 + length)
        assert.strictEqual(
          view.readUInt32BE(at + 8 + length),
          PngEncode.crc32Fallback(view.subarray(at + 4, at + 8 + length))
        )
        types.push(type)
        if (type === "IHDR") assert.deepStrictEqual(Array.from(data.subarray(8)), [8, 2, 0, 0, 0])
        if (type === "IDAT") idat = data
        at += 12 + length
      }
      assert.deepStrictEqual(types, ["IHDR", "IDAT", "IEND"])
      const row = [0, ...Array.from({ length: 8 }, () => [200, 40 + f % 100, 90]).flat()]
      assert.deepStrictEqual(Array.from(Zlib.inflateSync(idat)), Array.from({ length: 6 }, () => row).flat())
    })
  })

  it("writes absolute times in UTC from the start time", () => {
    const meeting = SampleMeeting.generate({ start: "2026-11-20T17:00:00.25+02:00" })
    const [join] = ofType(decodeAll(meeting.entries), "participant_events.join")
    assert.deepStrictEqual(join!.data.data.timestamp, { relative: 0.2, absolute: "2026-11-20T15:00:00.450000Z" })
    const last = ofType(decodeAll(meeting.entries), "participant_events.leave")[0]!
    assert.deepStrictEqual(last.data.data.timestamp, { relative: 29.5, absolute: "2026-11-20T15:00:29.750000Z" })

    // 29.5234375 s is 29523437.5 us exactly: Python's timedelta rounds the half to an even count.
    const [tie] = ofType(
      decodeAll(SampleMeeting.generate({ duration: 30.0234375 }).entries),
      "participant_events.leave"
    )
    assert.deepStrictEqual(tie!.data.data.timestamp, { relative: 29.523438, absolute: "2026-11-20T15:00:29.523438Z" })
  })

  it("writes a tape that Tape.parse reads back", () => {
    const meeting = SampleMeeting.generate({ duration: 8, separate: true, video: true })
    const parsed = Either.getOrThrow(Tape.parse(SampleMeeting.toJsonl(meeting)))
    assert.deepStrictEqual(parsed, meeting.entries)
  })

  it("rejects options it cannot honour", () => {
    assert.throws(() => SampleMeeting.generate({ duration: 0 }), RangeError)
    assert.throws(() => SampleMeeting.generate({ chunkMs: 0.5 }), RangeError)
    assert.throws(() => SampleMeeting.generate({ seed: 1.5 }), RangeError)
    assert.throws(() => SampleMeeting.generate({ start: "yesterday" }), RangeError)
  })
})

describe("Python-compatible numerics", () => {
  it("draws CPython's random numbers for an integer seed", () => {
    const one = PyRandom.make(1)
    // random.Random(1).random() three times
    assert.deepStrictEqual([one.random(), one.random(), one.random()], [
      0.13436424411240122,
      0.8474337369372327,
      0.763774618976614
    ])
    // r = random.Random(2**40 + 3); r.getrandbits(32); r.uniform(0.3, 1.2)
    const big = PyRandom.make(2 ** 40 + 3)
    assert.strictEqual(big.uint32(), 943978446)
    assert.strictEqual(big.uniform(0.3, 1.2), 0.35474915351362446)
    assert.strictEqual(PyRandom.make(-7).random(), PyRandom.make(7).random())
  })

  it("rounds like CPython's round(x, n): exact binary value, ties to even", () => {
    assert.strictEqual(PyRandom.round(2.5, 0), 2)
    assert.strictEqual(PyRandom.round(3.5, 0), 4)
    assert.strictEqual(PyRandom.round(0.125, 2), 0.12)
    assert.strictEqual(PyRandom.round(0.375, 2), 0.38)
    assert.strictEqual(PyRandom.round(2.675, 2), 2.67)
    assert.strictEqual(PyRandom.round(-0.125, 2), -0.12)
    assert.strictEqual(PyRandom.round(1.0000005, 6), 1.000001)
    assert.strictEqual(PyRandom.round(0.1 + 0.2, 6), 0.3)
  })

  it("floor-divides floats like CPython", () => {
    assert.strictEqual(PyRandom.floorDiv(1, 0.1), 9)
    assert.strictEqual(PyRandom.floorDiv(30000, 100), 300)
    assert.strictEqual(PyRandom.floorDiv(-7, 2), -4)
    assert.strictEqual(PyRandom.floorDiv(7.5, -2), -4)
  })

  it("computes CRC-32 with a table the same as zlib", () => {
    assert.strictEqual(PngEncode.crc32Fallback(Buffer.from("123456789")), 0xcbf43926)
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff)
    assert.strictEqual(PngEncode.crc32Fallback(bytes), PngEncode.crc32(bytes))
  })
})
