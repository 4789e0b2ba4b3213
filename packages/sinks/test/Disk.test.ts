import { SampleMeeting, type SessionEvent, SessionKey } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import * as SessionRecorder from "../src/SessionRecorder.js"
import * as FailingFileSystem from "./failingFileSystem.js"
import { BOT, json, readTape, readTapeSoFar, sample, sessionItems, tempDir } from "./recording.js"

const key = SessionKey.make(BOT)
const itemsOf = (meeting: SampleMeeting.SampleMeeting) => sessionItems(meeting.entries)

const collectLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const oneShot = (items: ReadonlyArray<SessionEvent.SessionEvent>, directory: string) =>
  SessionRecorder.recordSession({ key, events: Stream.fromIterable(items) }, { directory }).pipe(
    Effect.provide(NodeContext.layer)
  )

const same = (a: string, b: string, name: string) =>
  assert.isTrue(fs.readFileSync(path.join(a, name)).equals(fs.readFileSync(path.join(b, name))), name)

describe("SessionRecorder on a disk in trouble", () => {
  it.live("a full disk crashes nothing, is reported once per file, and the recording catches up when it recovers", () =>
    Effect.gen(function*() {
      const meeting = sample()
      const items = itemsOf(meeting)
      const { end, start } = items
      // positioned, as a scale-out source's events are: what onFlushed reports must be on disk already
      const position = (i: number) => String(i).padStart(6, "0")
      const messages = items.messages.map((message, i) => ({ ...message, position: position(i + 1) }))
      const dir = tempDir()
      const out = path.join(dir, "out")
      const reported: Array<string> = []
      const notOnDisk: Array<string> = []
      const onFlushed = (_: SessionKey.SessionKey, at: string) =>
        Effect.sync(() => {
          const onDisk = readTapeSoFar(path.join(out, BOT, "events.jsonl")).map((entry) => entry.position)
          if (!onDisk.includes(at)) notOnDisk.push(at)
          reported.push(at)
        })
      let full = false
      const failing: FailingFileSystem.Failing = (_, file) => full && file.startsWith(out)
      const third = Math.floor(messages.length / 3)
      const events = Stream.fromIterable([start, ...messages.slice(0, third)]).pipe(
        // the disk fills up a third into the meeting, and has room again 1.5 s later
        Stream.concat(Stream.execute(Effect.sync(() => {
          full = true
          setTimeout(() => (full = false), 1_500)
        }))),
        Stream.concat(Stream.fromIterable([...messages.slice(third), end]).pipe(Stream.rechunk(4)))
      )
      const logs = collectLogs()
      yield* SessionRecorder.recordSession({ key, events }, {
        directory: out,
        onFlushed,
        flushInterval: "50 millis",
        // the session waits for the disk once this much is waiting (so no media exceeds what is kept for it)
        maxPendingBytes: 128 * 1024
      }).pipe(Effect.provide(FailingFileSystem.layer(failing)), Effect.provide(logs.layer))
      yield* oneShot([start, ...messages, end], path.join(dir, "once"))

      const folder = path.join(out, BOT)
      const once = path.join(dir, "once", BOT)
      // nothing accepted is lost: the tape, the transcript, the roster, every WAV and frame
      assert.strictEqual(readTape(path.join(folder, "events.jsonl")).length, messages.length)
      assert.strictEqual(reported.at(-1), position(messages.length))
      assert.deepStrictEqual(notOnDisk, [], "onFlushed reports only what is on disk")
      for (const name of ["transcript.json", "transcript.txt", "participants.json", "chat.json"]) {
        same(folder, once, name)
      }
      for (const name of fs.readdirSync(path.join(once, "audio"))) same(folder, once, `audio/${name}`)
      const frames = path.join("video", "participant-100", "webcam")
      assert.deepStrictEqual(
        fs.readdirSync(path.join(folder, frames)).sort(),
        fs.readdirSync(path.join(once, frames)).sort()
      )

      // reported once per file, counted every time
      const session = json(path.join(folder, "session.json"))
      const sources: Array<string> = session.errors.map((e: any) => e.source)
      assert.include(sources, "events.jsonl")
      assert.deepStrictEqual(sources, [...new Set(sources)], "one error per file")
      assert.isAtLeast(session.recorder.writeFailures, sources.length)
      assert.strictEqual(session.recorder.lostBytes, 0)
      assert.strictEqual(session.recorder.failingFiles, 0)
      assert.strictEqual(session.counts.messages, messages.length)
      // (the cause in a line is cut at a length: a long path can leave the error code out)
      const warned = logs.lines.filter((line) =>
        line.startsWith("WARN") && line.includes("kept in memory and tried again")
      )
      assert.strictEqual(warned.length, sources.length, warned.join("\n"))
      for (const source of sources) {
        assert.isTrue(logs.lines.some((line) => line.includes(`${source} is written again`)), `${source} recovered`)
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("media that cannot be written for too long is given up and counted, once in the log", () =>
    Effect.gen(function*() {
      const meeting = sample()
      const { end, messages, start } = itemsOf(meeting)
      const dir = tempDir()
      const out = path.join(dir, "out")
      // participant 100's track can never be written; everything else can
      const failing: FailingFileSystem.Failing = (operation, file) =>
        operation === "write" && file.endsWith("participant-100.wav")
      const logs = collectLogs()
      yield* SessionRecorder.recordSession(
        { key, events: Stream.fromIterable([start, ...messages, end]).pipe(Stream.rechunk(4)) },
        // less than the media kept for the failing track: a failing track must not hold the session back
        { directory: out, flushInterval: "50 millis", maxPendingBytes: 128 * 1024 }
      ).pipe(Effect.provide(FailingFileSystem.layer(failing)), Effect.provide(logs.layer))
      yield* oneShot([start, ...messages, end], path.join(dir, "once"))

      const folder = path.join(out, BOT)
      const once = path.join(dir, "once", BOT)
      const session = json(path.join(folder, "session.json"))
      // every sample the track should hold was given up (the one-shot file's non-silent part), and said so once
      const spoken = fs.readFileSync(path.join(once, "audio", "participant-100.wav")).subarray(44)
      let audible = 0
      for (let i = 0; i + 1 < spoken.length; i += 2) if (spoken.readInt16LE(i) !== 0) audible += 2
      assert.isAbove(session.recorder.lostBytes, 0)
      assert.isAtLeast(session.recorder.lostBytes, audible)
      assert.strictEqual(logs.lines.filter((line) => line.includes("gave up")).length, 1)
      assert.deepStrictEqual(session.errors.map((e: any) => e.source), ["audio/participant-100.wav"])
      // the rest of the session is whole
      assert.strictEqual(readTape(path.join(folder, "events.jsonl")).length, messages.length)
      for (const name of ["mixed.wav", "participant-200.wav", "participant-300.wav"]) {
        same(folder, once, `audio/${name}`)
      }
      same(folder, once, "transcript.json")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("a track whose file cannot be opened at first is opened later, with nothing lost", () =>
    Effect.gen(function*() {
      // a short meeting, paced so the recording outlasts the first backoff (1 s)
      const meeting = SampleMeeting.generate({ seed: 5, duration: 12, separate: true })
      const { end, messages, start } = itemsOf(meeting)
      const dir = tempDir()
      const out = path.join(dir, "out")
      let refused = 0
      const failing: FailingFileSystem.Failing = (operation, file) =>
        operation === "open" && file.endsWith("mixed.wav") && refused++ < 1
      const events = Stream.fromIterable([start, ...messages, end]).pipe(
        Stream.rechunk(4),
        Stream.tap(() => Effect.sleep("20 millis"))
      )
      yield* SessionRecorder.recordSession({ key, events }, { directory: out, flushInterval: "50 millis" }).pipe(
        Effect.provide(FailingFileSystem.layer(failing))
      )
      yield* oneShot([start, ...messages, end], path.join(dir, "once"))
      const folder = path.join(out, BOT)
      assert.strictEqual(refused, 2, "opened on the second try")
      same(folder, path.join(dir, "once", BOT), "audio/mixed.wav")
      const session = json(path.join(folder, "session.json"))
      assert.strictEqual(session.recorder.lostBytes, 0)
      assert.deepStrictEqual(session.errors.map((e: any) => e.source), ["audio/mixed.wav"])
    }).pipe(Effect.provide(NodeContext.layer)))

  // root writes into read-only folders all the same, so this runs for other users only
  it.live.skipIf(process.getuid?.() === 0)(
    "a folder made read-only for a while is reported, then recorded again",
    () =>
      Effect.gen(function*() {
        const { end, messages, start } = itemsOf(sample())
        const dir = tempDir()
        const folder = path.join(dir, BOT)
        const writable = (mode: number) =>
          Stream.execute(Effect.sync(() => {
            fs.chmodSync(folder, mode)
            fs.chmodSync(path.join(folder, "audio"), mode)
          }))
        const pause = (ms: number) => Stream.execute(Effect.sleep(ms))
        const half = Math.floor(messages.length / 2)
        const events = Stream.fromIterable([start, ...messages.slice(0, half)]).pipe(
          Stream.concat(pause(400)),
          Stream.concat(writable(0o555)),
          Stream.concat(Stream.fromIterable([...messages.slice(half), end])),
          Stream.concat(pause(1_500)),
          Stream.concat(writable(0o755))
        )
        yield* SessionRecorder.recordSession({ key, events }, { directory: dir, flushInterval: "50 millis" })
        const session = json(path.join(folder, "session.json"))
        assert.strictEqual(session.counts.messages, messages.length)
        assert.strictEqual(readTape(path.join(folder, "events.jsonl")).length, messages.length)
        assert.isAbove(session.errors.length, 0)
        assert.strictEqual(session.recorder.failingFiles, 0)
      }).pipe(Effect.provide(NodeContext.layer))
  )
})
