// serve's recorder thread: what it records, how little it lets in flight, and what it tells the main thread.
import { Decoder, SampleMeeting, SessionEvent, SessionKey } from "@callstream/core"
import { LogEntry } from "@callstream/redis"
import { RecorderMetrics, SessionRecorder } from "@callstream/sinks"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as RecorderThread from "../src/internal/recorderThread.js"
import * as ThreadMessages from "../src/internal/threadMessages.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "callstream-thread-"))

/** A meeting's events as a server's Stream carries them: started, every message with its raw text, ended. */
const sessionEvents = (seed: number, botId: string): ReadonlyArray<SessionEvent.SessionEvent> => {
  const key = SessionKey.make(botId)
  const meeting = SampleMeeting.generate({ seed, duration: 12, separate: true })
  const messages = meeting.entries.map((entry) => {
    const raw = JSON.stringify(entry.message)
    return SessionEvent.message(key, Either.getOrThrow(Decoder.decodeEither(raw)), 1_000 + entry.at * 1000, {
      raw,
      connectionId: "c1"
    })
  })
  return [
    new SessionEvent.SessionStarted({ session: key, at: 1_000, botId, recordingId: null, metadata: null }),
    ...messages,
    new SessionEvent.SessionEnded({ session: key, at: 20_000, reason: "completed" })
  ]
}

/** Two meetings interleaved event by event, as one flat Stream carries them. */
const twoMeetings = (): ReadonlyArray<SessionEvent.SessionEvent> => {
  const a = sessionEvents(1, "bot-a")
  const b = sessionEvents(2, "bot-b")
  const out: Array<SessionEvent.SessionEvent> = []
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]!)
    if (i < b.length) out.push(b[i]!)
  }
  return out
}

// what a recorder moved out of memory (`*.settled.jsonl`) depends on when its flushes came, so it is left out; the
// files rendered from it (transcript, participants.json) are compared
const filesOf = (folder: string): Array<string> =>
  fs.readdirSync(folder, { recursive: true, encoding: "utf8" })
    .filter((name) => fs.statSync(path.join(folder, name)).isFile() && !name.endsWith(".settled.jsonl"))
    .sort()

const options = (directory: string): RecorderThread.Options => ({
  directory,
  logLevel: "warning",
  otel: undefined,
  serviceName: "callstream-test"
})

describe("RecorderThread.record", () => {
  it.live(
    "records on its thread, byte for byte, what SessionRecorder.recordEvents records in this one",
    () =>
      Effect.gen(function*() {
        const events = twoMeetings()
        const here = tempDir()
        const there = tempDir()
        // small chunks, and less in flight than one audio message weighs: every chunk waits for the thread's credit
        const source = () => Stream.fromIterable(events).pipe(Stream.rechunk(8))
        yield* SessionRecorder.recordEvents(source(), { directory: here })
        yield* RecorderThread.record(source(), { ...options(there), maxInFlight: 1024 })

        for (const session of ["bot-a", "bot-b"]) {
          const files = filesOf(path.join(here, session))
          assert.deepStrictEqual(filesOf(path.join(there, session)), files)
          assert.include(files, "events.jsonl")
          assert.include(files, path.join("audio", "mixed.wav"))
          // session.json and checkpoint.json say when they were written; everything else is the same bytes
          for (const file of files.filter((name) => !["session.json", "checkpoint.json"].includes(name))) {
            assert.isTrue(
              fs.readFileSync(path.join(there, session, file)).equals(fs.readFileSync(path.join(here, session, file))),
              `${session}/${file}`
            )
          }
          const summary = JSON.parse(fs.readFileSync(path.join(there, session, "session.json"), "utf8"))
          const sent = events.filter((event) => event.session === session && event._tag === "Message").length
          assert.strictEqual(summary.counts.messages, sent)
        }
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.live(
    "with two threads, each records whole meetings, and together they record what one thread records",
    () =>
      Effect.gen(function*() {
        // two meetings whose keys hash to different threads
        assert.notStrictEqual(
          LogEntry.partitionOf(SessionKey.make("bot-a"), 2),
          LogEntry.partitionOf(SessionKey.make("bot-b"), 2)
        )
        const a = sessionEvents(1, "bot-a")
        const b = sessionEvents(2, "bot-b")
        const events = a.flatMap((event, i) => (i < b.length ? [event, b[i]!] : [event])).concat(b.slice(a.length))
        const one = tempDir()
        const two = tempDir()
        const source = () => Stream.fromIterable(events).pipe(Stream.rechunk(8))
        yield* RecorderThread.record(source(), options(one))
        // the gauge of sessions adds up across threads, and never counts more sessions than there are
        let most = 0
        const watch = yield* Effect.fork(
          Effect.repeat(
            Effect.map(Metric.value(RecorderMetrics.sessions), (state) => (most = Math.max(most, state.value))),
            Schedule.spaced("20 millis")
          )
        )
        yield* RecorderThread.record(source(), { ...options(two), threads: 2, maxInFlight: 1024 })
        yield* Fiber.interrupt(watch)
        for (const session of ["bot-a", "bot-b"]) {
          for (const file of ["events.jsonl", "transcript.json", path.join("audio", "mixed.wav")]) {
            assert.isTrue(
              fs.readFileSync(path.join(two, session, file)).equals(fs.readFileSync(path.join(one, session, file))),
              `${session}/${file}`
            )
          }
        }
        assert.isAtMost(most, 2)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.live(
    "limits each thread's V8 heap to heapLimitMb (1 GiB by default), and shows its heap and how busy it is on the metrics",
    () =>
      Effect.gen(function*() {
        const limit = ThreadMessages.heapLimit
        const used = ThreadMessages.heapUsed
        const MiB = 1024 * 1024
        // the limit V8 reports counts the young generation too (a few MiB to a few dozen above the old one's)
        yield* RecorderThread.record(Stream.fromIterable(twoMeetings()), { ...options(tempDir()), heapLimitMb: 200 })
        const small = (yield* Metric.value(limit)).value
        assert.isAtLeast(small, 200 * MiB)
        assert.isBelow(small, 300 * MiB)
        assert.isAbove((yield* Metric.value(used)).value, 1 * MiB)
        // and how busy the thread was, in its last second: it was recording (set here to what the thread never sets)
        yield* Metric.set(ThreadMessages.threadBusy, -1)
        yield* RecorderThread.record(Stream.fromIterable(twoMeetings()), options(tempDir()))
        const busy = (yield* Metric.value(ThreadMessages.threadBusy)).value
        assert.isAbove(busy, 0)
        assert.isAtMost(busy, 1)
        yield* RecorderThread.record(Stream.fromIterable(twoMeetings()), options(tempDir()))
        const standard = (yield* Metric.value(limit)).value
        assert.isAtLeast(standard, RecorderThread.DEFAULT_HEAP_LIMIT_MB * MiB)
        assert.isBelow(standard, (RecorderThread.DEFAULT_HEAP_LIMIT_MB + 100) * MiB)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.live(
    "logs here what the thread logs, and mirrors its recorder metrics into this thread's registry",
    () =>
      Effect.gen(function*() {
        // a file where one session's folder should be: the recorder cannot set that session up, and says so
        const dir = tempDir()
        fs.writeFileSync(path.join(dir, "bot-a"), "not a folder")
        // only the thread sets the gauge from here on
        yield* Metric.set(RecorderMetrics.exportInterval, -1)
        const logs: Array<{ readonly level: string; readonly text: string }> = []
        const collect = Logger.make(({ logLevel, message }) => {
          logs.push({ level: logLevel.label, text: (Array.isArray(message) ? message : [message]).join(" ") })
        })
        yield* RecorderThread.record(Stream.fromIterable(twoMeetings()), options(dir)).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, collect))
        )
        const failure = logs.find((line) => line.text.includes("session bot-a could not be recorded"))
        assert.isDefined(failure, JSON.stringify(logs))
        assert.strictEqual(failure!.level, "ERROR")
        assert.isTrue(fs.existsSync(path.join(dir, "bot-b", "events.jsonl")), "the other session is recorded")
        // the interval the thread's recorder chose for bot-b's derived files
        const interval = yield* Metric.value(RecorderMetrics.exportInterval)
        assert.isAbove(interval.value, 0)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})
