// SessionRecorder.recordEvents: every session of one flat Stream, through one consumer.
import { Fixtures, SampleMeeting, type SessionEvent, type Tape } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import * as SessionWriter from "../src/internal/sessionWriter.js"
import * as RecorderMetrics from "../src/RecorderMetrics.js"
import * as SessionFolder from "../src/SessionFolder.js"
import * as SessionRecorder from "../src/SessionRecorder.js"
import * as FailingFileSystem from "./failingFileSystem.js"
import { json, readTape, readTapeSoFar, sessionItems, tempDir, wavOf } from "./recording.js"

const meeting = (seed: number) => SampleMeeting.generate({ seed, duration: 12, separate: true })

/** The events of several sessions, one after the other in turn, as a server's flat Stream interleaves them. */
const interleave = (...sessions: ReadonlyArray<ReadonlyArray<SessionEvent.SessionEvent>>) => {
  const out: Array<SessionEvent.SessionEvent> = []
  const longest = Math.max(...sessions.map((items) => items.length))
  for (let i = 0; i < longest; i++) for (const items of sessions) if (i < items.length) out.push(items[i]!)
  return out
}

const oneShot = (items: ReadonlyArray<SessionEvent.SessionEvent>, directory: string) =>
  SessionRecorder.recordSession({ key: items[0]!.session, events: Stream.fromIterable(items) }, { directory })

/** The files of a session folder that a one-shot recording of the same events has, byte for byte. */
const sameFiles = (folder: string, once: string) => {
  for (const name of ["events.jsonl", "transcript.json", "participants.json", "chat.json"]) {
    assert.isTrue(fs.readFileSync(path.join(folder, name)).equals(fs.readFileSync(path.join(once, name))), name)
  }
  for (const name of fs.readdirSync(path.join(once, "audio"))) {
    const file = path.join("audio", name)
    assert.isTrue(fs.readFileSync(path.join(folder, file)).equals(fs.readFileSync(path.join(once, file))), file)
  }
}

const quiet = Logger.minimumLogLevel(LogLevel.Error)

describe("SessionRecorder.recordEvents", () => {
  it.live("records interleaved sessions as one-shot recordings would; a session slow to set up holds no other back", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const out = path.join(dir, "out")
      const fast = sessionItems(meeting(1).entries, "fast").all
      const slow = sessionItems(meeting(2).entries, "slow").all
      // the slow session's folder is made only once the fast session's tape has lines (or after 10 s): a recorder
      // that held every session back while one was set up would find none, however fast or slow the machine
      const fastTape = path.join(out, "fast", "events.jsonl")
      const fastLines = () => readTapeSoFar(fastTape).length
      let fastTapeBeforeSlowFolder = -1
      const slowFolders = Layer.effect(
        FileSystem.FileSystem,
        Effect.map(FileSystem.FileSystem, (files): FileSystem.FileSystem => ({
          ...files,
          makeDirectory: (target, options) =>
            target.includes(`${path.sep}slow`)
              ? Effect.sleep("10 millis").pipe(
                Effect.repeat({ until: () => fastLines() > 0 }),
                Effect.timeout("10 seconds"),
                Effect.ignore,
                Effect.tap(() =>
                  Effect.sync(() => {
                    if (fastTapeBeforeSlowFolder === -1) fastTapeBeforeSlowFolder = fastLines()
                  })
                ),
                Effect.zipRight(files.makeDirectory(target, options))
              )
              : files.makeDirectory(target, options)
        }))
      ).pipe(Layer.provideMerge(NodeContext.layer))
      const events = Stream.fromIterable(interleave(fast, slow)).pipe(
        Stream.rechunk(8),
        Stream.tap(() => Effect.sleep("2 millis"))
      )
      yield* SessionRecorder.recordEvents(events, { directory: out, flushInterval: "50 millis" }).pipe(
        Effect.provide(slowFolders)
      )
      yield* oneShot(fast, path.join(dir, "once"))
      yield* oneShot(slow, path.join(dir, "once"))

      assert.isAbove(fastTapeBeforeSlowFolder, 0, "the fast session was written while the slow one was set up")
      for (const [name, items] of [["fast", fast], ["slow", slow]] as const) {
        sameFiles(path.join(out, name), path.join(dir, "once", name))
        assert.strictEqual(json(path.join(out, name, "session.json")).counts.messages, items.length - 2)
      }
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  it.live("a meeting that starts again while its files are being finished continues the same folder, in order", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const whole = sessionItems(meeting(3).entries)
      const half = Math.floor(whole.messages.length / 2)
      const first = sessionItems(meeting(3).entries.slice(0, half))
      const second = sessionItems(meeting(3).entries.slice(half))
      yield* oneShot(whole.all, path.join(dir, "once"))
      const once = path.join(dir, "once", whole.key)
      // the second run's start comes right after the first run's end: it waits until the first run's files are done.
      // In chunks of 16, the first run is live when it ends; in one chunk, everything is held while the folder is
      // made, and the first run's end comes while its held events are applied
      for (const chunk of [16, 2 * whole.all.length]) {
        const out = path.join(dir, `out-${chunk}`)
        yield* SessionRecorder.recordEvents(
          Stream.fromIterable([...first.all, ...second.all]).pipe(Stream.rechunk(chunk)),
          { directory: out }
        )
        const folder = path.join(out, whole.key)
        assert.strictEqual(readTape(path.join(folder, "events.jsonl")).length, whole.messages.length)
        for (const name of ["transcript.json", "participants.json", "chat.json"]) {
          assert.deepStrictEqual(json(path.join(folder, name)), json(path.join(once, name)), `${chunk}: ${name}`)
        }
        for (const name of fs.readdirSync(path.join(once, "audio"))) {
          const file = path.join("audio", name)
          assert.isTrue(fs.readFileSync(path.join(folder, file)).equals(fs.readFileSync(path.join(once, file))), file)
        }
        const session = json(path.join(folder, "session.json"))
        assert.strictEqual(session.runs.length, 2)
        assert.strictEqual(session.counts.messages, whole.messages.length)
      }
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  it.live("a session whose tape cannot be written gives its lines up, counted, instead of holding the others back", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const out = path.join(dir, "out")
      const ok = sessionItems(meeting(4).entries, "ok")
      const stuck = sessionItems(meeting(5).entries, "stuck")
      const failing: FailingFileSystem.Failing = (operation, file) =>
        operation === "write" && file === path.join(out, "stuck", "events.jsonl")
      const events = Stream.fromIterable(interleave(ok.all, stuck.all)).pipe(
        Stream.rechunk(8),
        Stream.tap(() => Effect.sleep("2 millis"))
      )
      yield* SessionRecorder.recordEvents(events, {
        directory: out,
        flushInterval: "50 millis",
        maxPendingBytes: 64 * 1024
      }).pipe(Effect.provide(FailingFileSystem.layer(failing)))

      assert.strictEqual(readTape(path.join(out, "ok", "events.jsonl")).length, ok.messages.length)
      assert.deepStrictEqual(json(path.join(out, "ok", "session.json")).errors, [])
      const session = json(path.join(out, "stuck", "session.json"))
      // everything else of the stuck session is recorded; its tape lines are given up and said so
      assert.strictEqual(session.counts.messages, stuck.messages.length)
      assert.strictEqual(fs.statSync(path.join(out, "stuck", "events.jsonl")).size, 0)
      assert.isAbove(session.recorder.lostBytes, 0)
      const sources: Array<string> = session.errors.map((e: any) => e.source)
      assert.include(sources, "events.jsonl")
      assert.isTrue(session.errors.some((e: any) => e.message.includes("lines could not be written")))
      // given up along the way, not only at the end: the session never held more than its bound for long
      const givenUp = session.errors.filter((e: any) => e.message.includes("lines could not be written"))
      assert.isAbove(givenUp.length, 1)
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  it.live("when nothing can be written, stops reading at the memory budget, and loses nothing once the disk is back", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const out = path.join(dir, "out")
      const a = sessionItems(meeting(6).entries, "a")
      const b = sessionItems(meeting(7).entries, "b")
      let full = true
      let readWhileFull = 0
      let bytesWhileFull = 0
      const failing: FailingFileSystem.Failing = (operation) => full && operation === "write"
      const budget = 256 * 1024
      const events = Stream.fromIterable(interleave(a.all, b.all)).pipe(
        Stream.rechunk(4),
        Stream.tap((item) =>
          Effect.sync(() => {
            if (!full) return
            readWhileFull++
            if (item._tag === "Message") bytesWhileFull += item.raw?.length ?? 0
          })
        )
      )
      setTimeout(() => (full = false), 1_500)
      yield* SessionRecorder.recordEvents(events, {
        directory: out,
        flushInterval: "50 millis",
        maxPendingTotal: budget
      }).pipe(Effect.provide(FailingFileSystem.layer(failing)))

      const total = a.all.length + b.all.length
      assert.isBelow(readWhileFull, total, "the source was not read to its end while the disk was full")
      // what was read while nothing could be written: the budget, the chunk that passed it, and what the Stream
      // had buffered ahead (a chunk or two)
      assert.isBelow(bytesWhileFull, budget + 64 * 1024)
      for (const [name, items] of [["a", a], ["b", b]] as const) {
        const session = json(path.join(out, name, "session.json"))
        assert.strictEqual(readTape(path.join(out, name, "events.jsonl")).length, items.messages.length)
        assert.strictEqual(session.recorder.lostBytes, 0)
        assert.strictEqual(session.counts.messages, items.messages.length)
      }
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  it.live("a backlog handed over in one long chunk is written as it is applied, not once it is all applied", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const out = path.join(dir, "out")
      // ten minutes of one meeting: 6,688 messages, most of them audio, about 30 MB of tape
      const items = sessionItems(SampleMeeting.generate({ seed: 11, duration: 600 }).entries, "backlog")
      const [first, rest] = [items.all.slice(0, 4), items.all.slice(4)]
      // the lines each write of the tape carries (nothing fails)
      const writes: Array<number> = []
      const watching = FailingFileSystem.layer((operation, target, bytes) => {
        if (operation === "write" && bytes !== undefined && target.endsWith("events.jsonl")) {
          writes.push(Buffer.from(bytes).toString("utf8").split("\n").length - 1)
        }
        return false
      })
      // the session is open (its tape created) before its backlog comes, all in one chunk, as a source that fell
      // behind hands it over
      const tape = path.join(out, "backlog", "events.jsonl")
      const opened = Effect.suspend(() => fs.existsSync(tape) ? Effect.sleep("100 millis") : Effect.fail("not yet"))
      const events = Stream.concat(
        Stream.fromIterable(first),
        Stream.concat(
          Stream.execute(Effect.retry(opened, Schedule.spaced("20 millis"))),
          Stream.fromChunk(Chunk.unsafeFromArray(rest))
        )
      )
      yield* SessionRecorder.recordEvents(events, { directory: out, maxPendingBytes: 64 * 1024 }).pipe(
        Effect.provide(watching)
      )

      const lines = items.messages.length
      assert.strictEqual(readTape(tape).length, lines)
      assert.strictEqual(writes.reduce((a, b) => a + b, 0), lines)
      // the session's bound is reached within the chunk's first slice, and its flush writes what came so far before
      // the rest is applied (applied whole, the chunk's lines all went in one write)
      const backlog = rest.length - 1
      assert.isBelow(Math.max(...writes), backlog)
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  it.live("a backlog held while its session is set up is applied a slice at a time, and written as it is applied", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const out = path.join(dir, "out")
      // ten minutes of one meeting in one chunk, the session's start first: all of it comes before its folder is
      // made, and waits for it
      const items = sessionItems(SampleMeeting.generate({ seed: 12, duration: 600 }).entries, "held")
      const writes: Array<number> = []
      const watching = FailingFileSystem.layer((operation, target, bytes) => {
        if (operation === "write" && bytes !== undefined && target.endsWith("events.jsonl")) {
          writes.push(Buffer.from(bytes).toString("utf8").split("\n").length - 1)
        }
        return false
      })
      yield* SessionRecorder.recordEvents(Stream.fromChunk(Chunk.unsafeFromArray(items.all)), {
        directory: out,
        maxPendingBytes: 64 * 1024
      }).pipe(Effect.provide(watching))

      const lines = items.messages.length
      const tape = readTape(path.join(out, "held", "events.jsonl"))
      assert.strictEqual(tape.length, lines)
      assert.deepStrictEqual(
        tape.map((entry) => JSON.stringify(entry.message)),
        items.messages.map((message) => message.raw)
      )
      assert.strictEqual(writes.reduce((a, b) => a + b, 0), lines)
      // the session's bound is reached within the first slice, and its flush writes what was applied so far while
      // the rest waits for the next turns (applied in one go, the held lines all went in the last flush's write)
      assert.isBelow(Math.max(...writes), lines)
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  it.live("callstream_recorder_pending_bytes shows what is collected and not written yet", () =>
    Effect.gen(function*() {
      const out = path.join(tempDir(), "out")
      const items = sessionItems(meeting(12).entries, "pending")
      const tape = path.join(out, "pending", "events.jsonl")
      const text = items.messages.reduce((sum, item) => sum + item.raw!.length, 0)
      const gauge = Effect.map(Metric.value(RecorderMetrics.pendingBytes), (state) => state.value)
      const seen: Array<number> = []
      // every message, then (the session still going) a wait of two samples, with no flush due for an hour and room
      // for all of it
      const events = Stream.concat(
        Stream.fromIterable(items.all.slice(0, -1)),
        Stream.execute(Effect.zipRight(Effect.sleep("2500 millis"), Effect.map(gauge, (value) => seen.push(value))))
      ).pipe(Stream.concat(Stream.make(items.end)))
      yield* SessionRecorder.recordEvents(events, {
        directory: out,
        flushInterval: "1 hour",
        maxPendingBytes: 64 * 1024 * 1024
      })
      // each message's tape line (its text and a few dozen bytes around it) and the audio's samples
      assert.isAbove(seen[0]!, text)
      assert.strictEqual(readTape(tape).length, items.messages.length)
      // once the recorder is done, its share is taken back
      assert.strictEqual(yield* gauge, 0)
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  it.live("a chunk held back far ahead keeps its own samples while later chunks are decoded", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const out = path.join(dir, "out")
      // 100 ms of 440 Hz at 0 s, then 100 ms of 880 Hz at 30 s (past maxAhead: held back), then 100 ms of
      // 220 Hz right after it (the track goes on from the held chunk, so both are placed)
      const chunk = (frequency: number, at: number): Tape.TapeEntry => ({
        at,
        message: Fixtures.audio({ samples: Fixtures.tone(frequency, at, 0.1), at })
      })
      const items = sessionItems([chunk(440, 0), chunk(880, 30), chunk(220, 30.1)], "ahead")
      yield* SessionRecorder.recordEvents(Stream.fromIterable(items.all), {
        directory: out,
        audio: { maxAhead: 10 }
      })
      const samples = wavOf(path.join(out, "ahead", "audio", "mixed.wav")).samples
      const at = (seconds: number) => Array.from(samples.subarray(seconds * 16_000, seconds * 16_000 + 1600))
      assert.deepStrictEqual(at(30), Array.from(Fixtures.tone(880, 30, 0.1)))
      assert.deepStrictEqual(at(30.1), Array.from(Fixtures.tone(220, 30.1, 0.1)))
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  it.live("a session's tape keeps being written while its derived files are slow to write", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const out = path.join(dir, "out")
      const items = sessionItems(meeting(8).entries, "slowfiles")
      const tape = path.join(out, "slowfiles", "events.jsonl")
      const lines = () => readTapeSoFar(tape).length
      // every derived file takes 300 ms to write; the tape's lines are counted when the first one starts and
      // 250 ms later
      const seen: Array<number> = []
      const slowFiles = Layer.effect(
        FileSystem.FileSystem,
        Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => ({
          ...fs,
          writeFileString: (target, data, options) =>
            Effect.suspend(() => {
              if (seen.length === 0) {
                seen.push(lines())
                setTimeout(() => seen.push(lines()), 250)
              }
              return fs.writeFileString(target, data, options).pipe(Effect.delay("300 millis"))
            })
        }))
      ).pipe(Layer.provideMerge(NodeContext.layer))
      // the meeting arrives over about 3 s
      const events = Stream.fromIterable(items.all).pipe(
        Stream.rechunk(4),
        Stream.tap(() => Effect.sleep("15 millis"))
      )
      yield* SessionRecorder.recordEvents(events, {
        directory: out,
        flushInterval: "50 millis",
        exportInterval: "100 millis"
      }).pipe(Effect.provide(slowFiles))

      assert.strictEqual(seen.length, 2)
      assert.isAbove(seen[1]!, seen[0]! + 10, `tape lines went from ${seen[0]} to ${seen[1]} meanwhile`)
      assert.strictEqual(readTape(tape).length, items.messages.length)
      assert.strictEqual(json(path.join(out, "slowfiles", "session.json")).counts.messages, items.messages.length)
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  /**
   * Two sessions' events; once the second one's tape is on disk (it has flushed) and a little longer, whether its
   * `session.json` is there yet, and how many messages its final `session.json` counts.
   */
  const firstRefresh = (key: string, options: Partial<SessionRecorder.Options>) =>
    Effect.gen(function*() {
      const out = path.join(tempDir(), "out")
      const other = sessionItems(meeting(1).entries, "other").all
      const items = sessionItems(meeting(2).entries, key)
      const folder = path.join(out, SessionFolder.nameOf(items.key))
      const tape = path.join(folder, "events.jsonl")
      const summary = path.join(folder, "session.json")
      let early = false
      const look = Effect.gen(function*() {
        for (let i = 0; i < 200 && !(fs.existsSync(tape) && fs.statSync(tape).size > 0); i++) {
          yield* Effect.sleep("50 millis")
        }
        // some flushes later (the refresh, when due, is written beside the flush that found it due)
        for (let i = 0; i < 40 && !fs.existsSync(summary); i++) yield* Effect.sleep("50 millis")
        early = fs.existsSync(summary)
        return [other.at(-1)!, items.end]
      })
      const events = Stream.concat(
        Stream.fromIterable(interleave(other.slice(0, -1), items.all.slice(0, -1))),
        Stream.flattenIterables(Stream.fromEffect(look))
      )
      yield* SessionRecorder.recordEvents(events, {
        directory: out,
        flushInterval: "50 millis",
        exportInterval: "500 millis",
        ...options
      })
      return { early, counted: json(summary).counts.messages, messages: items.messages.length }
    })

  // a key whose turn comes in the second half of the budget's interval
  const late = Array.from({ length: 100 }, (_, i) => `late-${i}`).find((key) => SessionWriter.fractionOf(key) >= 0.5)!

  it.live("a session's first refresh is at its first flush when its sessions' files fit in the export interval", () =>
    Effect.gen(function*() {
      // at 1.4 files a second, 2 sessions' 7 files take 10 s of budget, within the 12 s export interval: the late
      // key's refresh is due at once (placed in the budget's interval instead, it would wait 2.5 s or more)
      const seen = yield* firstRefresh(late, { exportFilesPerSecond: 1.4, exportInterval: "12 seconds" })
      assert.isTrue(seen.early, "session.json not written within 2 s of the first flush")
      assert.strictEqual(seen.counted, seen.messages)
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

  it.live("when the budget's interval is longer, a session's first refresh waits for the turn its key picks", () =>
    Effect.gen(function*() {
      // at 0.7 files a second, 2 sessions' 7 files take 20 s of budget: a key in its second half waits 10 s or more
      const seen = yield* firstRefresh(late, { exportFilesPerSecond: 0.7 })
      assert.isFalse(seen.early, "session.json written at the first flushes")
      // the last flush writes it whatever the budget
      assert.strictEqual(seen.counted, seen.messages)
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))
})
