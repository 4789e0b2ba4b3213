import { Decoder, EventSource, RecallEvent, SessionEvent, Tape } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"

// -----------------------------------------------------------------------------
// builders
// -----------------------------------------------------------------------------

const ref = (id: string, metadata: Record<string, unknown> | null = {}) => ({ id, metadata })

/** A wire message (what Recall sends) of a participant event. */
const wire = (
  name: string,
  at: number,
  options: { readonly bot?: string | null; readonly recording?: string; readonly id?: number } = {}
) => ({
  event: name,
  data: {
    data: {
      participant: { id: options.id ?? 100, name: "Ada", is_host: true, platform: "desktop", extra_data: {} },
      timestamp: { relative: at, absolute: new Date(Date.UTC(2026, 10, 20, 15) + at * 1000).toISOString() },
      data: null
    },
    recording: ref(options.recording ?? "rec-1", { team: "red" }),
    ...(options.bot === null ? { bot: null } : { bot: ref(options.bot ?? "bot-1", { team: "blue" }) }),
    participant_events: ref("pe")
  }
})

const decoded = (message: unknown): RecallEvent.RecallEvent => Either.getOrThrow(Decoder.decodeJsonEither(message))

const invalid = new Decoder.DecodeError({ reason: "InvalidJson", path: "", issue: "Unexpected token", bytes: 3 })

const eventsOf = <R>(layer: Layer.Layer<EventSource.EventSource, never, R>) =>
  Effect.flatMap(EventSource.EventSource, (source) => Stream.runCollect(source.events)).pipe(
    Effect.map(Chunk.toReadonlyArray),
    Effect.provide(layer)
  )

const describeItem = (item: SessionEvent.SessionEvent): string => {
  switch (item._tag) {
    case "Message":
      return `${item.session} ${RecallEvent.nameOf(item.event)}`
    default:
      return `${item.session} ${item._tag}`
  }
}

// -----------------------------------------------------------------------------

describe("EventSource.fromIterable", () => {
  it.effect("frames each session with SessionStarted and SessionEnded", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_000)
      const items = yield* eventsOf(EventSource.fromIterable([
        invalid, // names no session yet: left out
        decoded(wire("participant_events.join", 0)),
        decoded(wire("participant_events.join", 1, { bot: "bot-2" })),
        invalid, // attributed to the last session seen
        decoded(wire("participant_events.leave", 2)),
        decoded({ event: "bot.status_change", data: { code: "in_call" } }), // unknown and names no session
        decoded({ event: "bot.status_change", data: { bot: { id: "bot-2" } } })
      ]))
      assert.deepStrictEqual(items.map(describeItem), [
        "bot-1 SessionStarted",
        "bot-1 participant_events.join",
        "bot-2 SessionStarted",
        "bot-2 participant_events.join",
        "bot-2 DecodeFailed",
        "bot-1 participant_events.leave",
        "bot-2 bot.status_change",
        "bot-1 SessionEnded",
        "bot-2 SessionEnded"
      ])
      const started = items[0] as SessionEvent.SessionStarted
      assert.deepStrictEqual(
        { botId: started.botId, recordingId: started.recordingId, metadata: started.metadata, at: started.at },
        { botId: "bot-1", recordingId: "rec-1", metadata: { team: "blue" }, at: 1_000 }
      )
      const failed = items[4] as SessionEvent.DecodeFailed
      assert.strictEqual(failed.error, invalid)
      const ended = items.at(-1) as SessionEvent.SessionEnded
      assert.strictEqual(ended.reason, "completed")
    }))

  it.effect("keys a botless session by its recording", () =>
    Effect.gen(function*() {
      const items = yield* eventsOf(
        EventSource.fromIterable([decoded(wire("participant_events.join", 0, { bot: null, recording: "rec-9" }))])
      )
      assert.deepStrictEqual(items.map(describeItem), [
        "rec-9 SessionStarted",
        "rec-9 participant_events.join",
        "rec-9 SessionEnded"
      ])
      const started = items[0] as SessionEvent.SessionStarted
      assert.strictEqual(started.botId, null)
      assert.deepStrictEqual(started.metadata, { team: "red" })
    }))

  it.effect("gives every run, even concurrent ones, its own sessions", () =>
    Effect.gen(function*() {
      const layer = EventSource.fromIterable([
        decoded(wire("participant_events.join", 0)),
        decoded(wire("participant_events.leave", 1))
      ])
      const expected = ["bot-1 SessionStarted", "bot-1 participant_events.join", "bot-1 participant_events.leave"]
      const runs = yield* Effect.flatMap(
        EventSource.EventSource,
        (source) =>
          Effect.all(
            [0, 1, 2].map(() =>
              source.events.pipe(
                Stream.rechunk(1),
                Stream.take(3),
                Stream.runCollect,
                Effect.map(Chunk.toReadonlyArray)
              )
            ),
            { concurrency: "unbounded" }
          )
      ).pipe(Effect.provide(layer))
      for (const run of runs) assert.deepStrictEqual(run.map(describeItem), expected)
      const again = yield* eventsOf(layer)
      assert.deepStrictEqual(again.map(describeItem), [...expected, "bot-1 SessionEnded"])
    }))

  it.effect("withSessions keeps no state shared between concurrent runs", () =>
    Effect.gen(function*() {
      const items = [wire("participant_events.join", 0), wire("participant_events.leave", 1)].map((message) => ({
        item: decoded(message),
        receivedAt: 7
      }))
      // The input yields between items, so concurrent runs interleave.
      const events = EventSource.withSessions(Stream.fromIterable(items).pipe(Stream.tap(() => Effect.yieldNow())))
      const runs = yield* Effect.all(
        [0, 1, 2].map(() =>
          Effect.map(Stream.runCollect(events), (chunk) => Chunk.toReadonlyArray(chunk).map(describeItem))
        ),
        { concurrency: "unbounded" }
      )
      for (const run of runs) {
        assert.deepStrictEqual(run, [
          "bot-1 SessionStarted",
          "bot-1 participant_events.join",
          "bot-1 participant_events.leave",
          "bot-1 SessionEnded"
        ])
      }
      const message = (yield* Stream.runCollect(events)).pipe(Chunk.unsafeGet(1)) as SessionEvent.Message
      assert.strictEqual(message.receivedAt, 7)
    }))
})

// -----------------------------------------------------------------------------

describe("Tape (in memory)", () => {
  it("formats and parses lines", () => {
    const message = { event: "x", data: { text: "héllo\nworld" } }
    const line = Tape.formatLine(1.5, message)
    assert.isTrue(line.endsWith("\n"))
    assert.strictEqual(line.indexOf("\n"), line.length - 1)
    assert.deepStrictEqual(Either.getOrThrow(Tape.parseLine(line)), { at: 1.5, message })
    assert.strictEqual(Tape.formatLine(Number.NaN, 1), "{\"at\":0,\"message\":1}\n")
  })

  it("keeps raw JSON as it arrived, line breaks aside", () => {
    const raw = "{ \"event\" : \"x\",\r\n  \"data\": {\"n\": 1.50} }"
    const line = Tape.formatLine(2, null, { raw })
    assert.strictEqual(line, "{\"at\":2,\"message\":{ \"event\" : \"x\",   \"data\": {\"n\": 1.50} }}\n")
    assert.deepStrictEqual(Either.getOrThrow(Tape.parseLine(line)).message, { event: "x", data: { n: 1.5 } })
  })

  it("parses a tape, skipping blank lines and naming the bad one", () => {
    const good = Tape.formatLine(0, { a: 1 }) + "\n  \n" + Tape.formatLine(1, { b: 2 })
    assert.deepStrictEqual(Either.getOrThrow(Tape.parse(good)), [{ at: 0, message: { a: 1 } }, {
      at: 1,
      message: { b: 2 }
    }])
    const notJson = Tape.parse(good + "{oops\n")
    assert.isTrue(Either.isLeft(notJson) && notJson.left.line === 5 && notJson.left.reason === "InvalidLine")
    const wrongShape = Tape.parse("\n{\"at\":\"soon\",\"message\":{}}")
    assert.isTrue(Either.isLeft(wrongShape) && wrongShape.left.line === 2)
    assert.include(Either.flip(wrongShape).pipe(Either.getOrThrow).message, "line 2")
    // a line without a message is not an entry (it used to pass as `message: undefined`)
    assert.isTrue(Either.isLeft(Tape.parseLine("{\"at\":1}")))
  })
})

// -----------------------------------------------------------------------------

const tempFile = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "callstream-tape-" })
  return path.join(dir, "events.jsonl")
})

const writeTape = (entries: ReadonlyArray<Tape.TapeEntry>) =>
  Effect.gen(function*() {
    const file = yield* tempFile
    yield* Stream.fromIterable(entries).pipe(Stream.run(Tape.write(file)))
    return file
  })

describe("Tape (files)", () => {
  it.scoped("writes entries and reads them back; writing again appends", () =>
    Effect.gen(function*() {
      const entries = [0, 0.25, 1].map((at) => ({ at, message: wire("participant_events.speech_on", at) }))
      const file = yield* writeTape(entries)
      yield* Stream.make({ at: 2, message: { event: "later" } }).pipe(Stream.run(Tape.write(file)))
      const back = yield* Stream.runCollect(Tape.read(file))
      assert.deepStrictEqual(Chunk.toReadonlyArray(back), [...entries, { at: 2, message: { event: "later" } }])
      const text = yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(file))
      assert.deepStrictEqual(Tape.parse(text), Either.right(Chunk.toReadonlyArray(back)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("reads a large tape with multi-byte text across read chunks", () =>
    Effect.gen(function*() {
      const entries = Array.from({ length: 2000 }, (_, i) => ({ at: i, message: { text: `é€😀 ${i} `.repeat(20) } }))
      const file = yield* writeTape(entries)
      const size = yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(file))
      assert.isTrue(Number(size.size) > 256 * 1024)
      const back = yield* Stream.runCollect(Tape.read(file))
      assert.deepStrictEqual(Chunk.toReadonlyArray(back), entries)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("fails with the line number of a bad line, and with a PlatformError for a missing file", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const file = yield* tempFile
      yield* fs.writeFileString(file, Tape.formatLine(0, {}) + "\n" + "{\"at\":1}\n")
      const error = yield* Effect.flip(Stream.runDrain(Tape.read(file)))
      assert.isTrue(error._tag === "TapeError" && error.line === 3)
      const missing = yield* Effect.flip(Stream.runDrain(Tape.read(file + ".missing")))
      assert.strictEqual(missing._tag, "SystemError")
    }).pipe(Effect.provide(NodeContext.layer)))
})

// -----------------------------------------------------------------------------

/** Lets pending I/O callbacks run until the stream has asked the TestClock to sleep. */
const awaitSleep = Effect.gen(function*() {
  for (let i = 0; i < 1000; i++) {
    const sleeps = yield* TestClock.sleeps()
    if (Chunk.isNonEmpty(sleeps)) return Chunk.toReadonlyArray(sleeps)
    yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
  }
  return assert.fail("the tape never waited for its next entry")
})

describe("EventSource.fromTape", () => {
  it.scoped("replays a tape as a session, with raw text and decode failures", () =>
    Effect.gen(function*() {
      const bad = { event: "participant_events.join", data: { data: {} } }
      const file = yield* writeTape([
        { at: 0, message: wire("participant_events.join", 0) },
        { at: 1, message: bad },
        { at: 2, message: wire("participant_events.leave", 2) }
      ])
      const items = yield* eventsOf(EventSource.fromTape(file))
      assert.deepStrictEqual(items.map(describeItem), [
        "bot-1 SessionStarted",
        "bot-1 participant_events.join",
        "bot-1 DecodeFailed",
        "bot-1 participant_events.leave",
        "bot-1 SessionEnded"
      ])
      const first = items[1] as SessionEvent.Message
      assert.deepStrictEqual(JSON.parse(first.raw!), wire("participant_events.join", 0))
      const failed = items[2] as SessionEvent.DecodeFailed
      assert.strictEqual(failed.error.reason, "InvalidShape")
      assert.strictEqual(failed.error.event, "participant_events.join")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a line that is not a tape entry, mid-tape or torn at the end, is a DecodeFailed and the replay goes on", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const file = yield* tempFile
      const join = Tape.formatLine(0, wire("participant_events.join", 0))
      const leave = Tape.formatLine(2, wire("participant_events.leave", 2))
      // garbage between two entries, and the first half of an entry with no newline, as a killed writer leaves it
      yield* fs.writeFileString(file, join + "not json at all\n" + leave + leave.slice(0, 40))
      const items = yield* eventsOf(EventSource.fromTape(file))
      assert.deepStrictEqual(items.map(describeItem), [
        "bot-1 SessionStarted",
        "bot-1 participant_events.join",
        "bot-1 DecodeFailed",
        "bot-1 participant_events.leave",
        "bot-1 DecodeFailed",
        "bot-1 SessionEnded"
      ])
      const failures = items.filter((item): item is SessionEvent.DecodeFailed => item._tag === "DecodeFailed")
      assert.deepStrictEqual(failures.map((f) => [f.error.reason, f.error.issue]), [
        ["InvalidJson", "Tape line 2 is not a tape entry"],
        ["InvalidJson", "Tape line 4 is not a tape entry"]
      ])
      // Tape.readEither says the same per line; Tape.read stops at the first
      const lines = Chunk.toReadonlyArray(yield* Stream.runCollect(Tape.readEither(file)))
      assert.deepStrictEqual(lines.map(Either.isRight), [true, false, true, false])
      const error = yield* Effect.flip(Stream.runDrain(Tape.read(file)))
      assert.isTrue(error._tag === "TapeError" && error.line === 2)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("paces entries by `at` / speed on the Clock", () =>
    Effect.gen(function*() {
      const file = yield* writeTape([0, 4, 10].map((at) => ({ at, message: wire("participant_events.speech_on", at) })))
      const queue = yield* Queue.unbounded<SessionEvent.SessionEvent>()
      yield* EventSource.tapeEvents(file, { speed: 2 }).pipe(
        Stream.runForEach((item) => Queue.offer(queue, item)),
        Effect.forkScoped
      )
      const receivedAt = (item: SessionEvent.SessionEvent) => (item as SessionEvent.Message).receivedAt
      assert.strictEqual((yield* Queue.take(queue))._tag, "SessionStarted")
      assert.strictEqual(receivedAt(yield* Queue.take(queue)), 0)
      assert.deepStrictEqual(yield* awaitSleep, [2_000])
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(receivedAt(yield* Queue.take(queue)), 2_000)
      assert.deepStrictEqual(yield* awaitSleep, [5_000])
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(receivedAt(yield* Queue.take(queue)), 5_000)
      assert.strictEqual((yield* Queue.take(queue))._tag, "SessionEnded")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("fails tapeEvents on a tape that cannot be read, and dies in the fromTape layer", () =>
    Effect.gen(function*() {
      const file = (yield* tempFile) + ".missing"
      const error = yield* Effect.flip(Stream.runDrain(EventSource.tapeEvents(file)))
      assert.strictEqual(error._tag, "SystemError")
      const exit = yield* Effect.flatMap(EventSource.EventSource, (source) => Stream.runDrain(source.events)).pipe(
        Effect.provide(EventSource.fromTape(file)),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit) && Exit.isInterrupted(exit) === false)
      assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Die")
    }).pipe(Effect.provide(NodeContext.layer)))
})

// -----------------------------------------------------------------------------

describe("EventSource: nothing an item holds stops the Stream", () => {
  it.effect("the frames that took the server down start their sessions", () =>
    Effect.gen(function*() {
      const items = yield* eventsOf(EventSource.fromIterable([
        decoded({ event: "whatever", data: { bot: { id: "x", metadata: 5 } } }),
        decoded({ event: "whatever", data: { bot: { id: 7 }, recording: { id: "r2" } } })
      ]))
      const started = items.filter((item): item is SessionEvent.SessionStarted => item._tag === "SessionStarted")
      assert.deepStrictEqual(started.map((s) => [s.session, s.botId, s.recordingId, s.metadata]), [
        ["x", "x", null, null],
        ["r2", null, "r2", null]
      ])
      assert.strictEqual(items.filter((item) => item._tag === "Message").length, 2)
    }))

  it.effect("an item that is no event becomes an InternalError DecodeFailed for the last session, or is left out", () =>
    Effect.gen(function*() {
      const garbage = null as unknown as RecallEvent.RecallEvent
      const items = yield* eventsOf(EventSource.fromIterable([
        garbage, // no session yet: left out (and logged)
        decoded(wire("participant_events.join", 0)),
        garbage,
        decoded(wire("participant_events.leave", 1))
      ]))
      assert.deepStrictEqual(items.map(describeItem), [
        "bot-1 SessionStarted",
        "bot-1 participant_events.join",
        "bot-1 DecodeFailed",
        "bot-1 participant_events.leave",
        "bot-1 SessionEnded"
      ])
      assert.strictEqual((items[2] as SessionEvent.DecodeFailed).error.reason, "InternalError")
    }))

  it.scoped("a tape entry nested too deeply to write back as text becomes a DecodeFailed, and the tape goes on", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const file = yield* tempFile
      const deep = "[".repeat(200_000) + "]".repeat(200_000)
      yield* fs.writeFileString(
        file,
        Tape.formatLine(0, wire("participant_events.join", 0)) +
          `{"at":1,"message":{"event":"whatever","data":${deep}}}\n` +
          Tape.formatLine(2, wire("participant_events.leave", 2))
      )
      const items = yield* eventsOf(EventSource.fromTape(file))
      assert.deepStrictEqual(items.map(describeItem), [
        "bot-1 SessionStarted",
        "bot-1 participant_events.join",
        "bot-1 DecodeFailed",
        "bot-1 participant_events.leave",
        "bot-1 SessionEnded"
      ])
      assert.strictEqual((items[2] as SessionEvent.DecodeFailed).error.reason, "InternalError")
    }).pipe(Effect.provide(NodeContext.layer)))
})
