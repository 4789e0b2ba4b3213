import { type RecallEvent, SessionEvent, SessionKey } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as SessionRecorder from "../src/SessionRecorder.js"
import * as FailingFileSystem from "./failingFileSystem.js"
import {
  BOT,
  h264Frames,
  json,
  paced,
  readTape,
  readTapeSoFar,
  record,
  sample,
  sessionItems,
  tempDir,
  writeTape
} from "./recording.js"

const CHILD = fileURLToPath(new URL("./child/record-until-killed.ts", import.meta.url))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const lineCount = (file: string) => readTapeSoFar(file).length

const DERIVED = ["transcript.json", "transcript.txt", "transcript.srt", "transcript.vtt", "chat.json"]

/** What session.json says that does not depend on when, or in how many runs, it was recorded. */
const timeless = (summary: any) => ({
  session: summary.session,
  botId: summary.botId,
  recordingId: summary.recordingId,
  metadata: summary.metadata,
  endReason: summary.endReason,
  counts: summary.counts,
  gaps: summary.gaps.map((g: any) => [g.from, g.to]),
  drops: summary.drops.map((d: any) => [d.kind, d.count, d.from, d.to]),
  decodeFailures: summary.decodeFailures.length,
  errors: summary.errors,
  audio: summary.audio,
  video: summary.video
})

/** The folder `dir` holds what the one-shot recording `once` holds, runs apart. */
const sameAsOneShot = (dir: string, once: string) => {
  for (const name of DERIVED) {
    assert.strictEqual(
      fs.readFileSync(path.join(dir, name), "utf8"),
      fs.readFileSync(path.join(once, name), "utf8"),
      name
    )
  }
  assert.deepStrictEqual(json(path.join(dir, "participants.json")), json(path.join(once, "participants.json")))
  assert.deepStrictEqual(
    timeless(json(path.join(dir, "session.json"))),
    timeless(json(path.join(once, "session.json")))
  )
  for (const name of fs.readdirSync(path.join(once, "audio"))) {
    assert.isTrue(
      fs.readFileSync(path.join(dir, "audio", name)).equals(fs.readFileSync(path.join(once, "audio", name))),
      `audio/${name}`
    )
  }
  assert.deepStrictEqual(
    readTape(path.join(dir, "events.jsonl")).map((e) => e.message),
    readTape(path.join(once, "events.jsonl")).map((e) => e.message)
  )
}

/**
 * Records the sample meeting in two runs, with `damage` done to the folder in between, and checks the folder
 * against a one-shot recording of the same meeting.
 */
const restartedAfter = async (damage: (folder: string) => void): Promise<string> => {
  const meeting = sample()
  const dir = tempDir()
  const half = Math.floor(meeting.entries.length / 2)
  const once = path.join(dir, "once")
  await record(writeTape(dir, meeting.entries, "all.jsonl"), once)
  const out = path.join(dir, "out")
  await record(writeTape(dir, meeting.entries.slice(0, half), "first.jsonl"), out)
  damage(path.join(out, BOT))
  await record(writeTape(dir, meeting.entries.slice(half), "second.jsonl"), out)
  sameAsOneShot(path.join(out, BOT), path.join(once, BOT))
  return path.join(out, BOT)
}

describe("SessionRecorder across restarts", () => {
  it("a SIGKILL shortly after a message, a restart and the rest of the meeting give the one-shot result", async () => {
    // the scenario of the issue: a meeting streamed at 4x, the recorder killed 0.4 s after the last message it got,
    // restarted on the same folder, then the rest of the meeting
    const meeting = sample()
    const dir = tempDir()
    const out = path.join(dir, "out")
    const half = Math.floor(meeting.entries.length * 0.6)
    const first = meeting.entries.slice(0, half)
    const child = spawn(
      process.execPath,
      ["--import", "tsx", CHILD, writeTape(dir, first, "first.jsonl"), out, "4", "10000"],
      { cwd: fileURLToPath(new URL("..", import.meta.url)), stdio: ["ignore", "ignore", "pipe"] }
    )
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_, signal) => resolve(signal)))
    const tape = path.join(out, BOT, "events.jsonl")
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline && child.exitCode === null && lineCount(tape) < first.length) await sleep(50)
    assert.strictEqual(lineCount(tape), first.length, `the tape holds the first part before the kill: ${stderr}`)
    await sleep(400)
    child.kill("SIGKILL")
    assert.strictEqual(await exited, "SIGKILL")

    await record(writeTape(dir, meeting.entries.slice(half), "rest.jsonl"), out)
    const once = path.join(dir, "once")
    await record(writeTape(dir, meeting.entries, "all.jsonl"), once)
    sameAsOneShot(path.join(out, BOT), path.join(once, BOT))
    assert.strictEqual(json(path.join(out, BOT, "session.json")).runs.length, 2)
  })

  it("continues an intact folder from its checkpoint (roster, intervals and chat included)", async () => {
    const folder = await restartedAfter(() => {})
    const session = json(path.join(folder, "session.json"))
    assert.strictEqual(session.runs.length, 2)
    assert.strictEqual(session.recorder.restoredFrom, "checkpoint")
  })

  it("rebuilds a corrupt session.json, transcript.json and checkpoint.json from the tape", async () => {
    for (
      const broken of [["session.json", "transcript.json"], ["session.json", "transcript.json", "checkpoint.json"]]
    ) {
      await restartedAfter((folder) => {
        for (const name of broken) fs.writeFileSync(path.join(folder, name), "{\"utterances\": [{\"cut short")
      })
    }
  })

  it("continues a folder an earlier version wrote (no control log, no checkpoint) from its derived files", async () => {
    const folder = await restartedAfter((folder) => {
      for (const name of ["control.jsonl", "checkpoint.json"]) fs.rmSync(path.join(folder, name))
    })
    const session = json(path.join(folder, "session.json"))
    assert.strictEqual(session.runs.length, 2, "the earlier run is kept")
    assert.strictEqual(session.recorder.restoredFrom, "derived files")
  })

  it.live("a handover finishes the files without ending the meeting; the next recorder goes on as if never stopped", () =>
    Effect.gen(function*() {
      const items = sessionItems(sample().entries)
      const key = items.key
      const position = (i: number) => String(i).padStart(8, "0")
      const messages = items.messages.map((message, i) => ({ ...message, position: position(i + 1) }))
      const start = new SessionEvent.SessionStarted({ ...items.start, position: position(0) })
      const end = new SessionEvent.SessionEnded({ ...items.end, position: position(messages.length + 1) })
      const cut = Math.floor(messages.length * 0.6)
      // as a worker hands the session's partition over: after the last event it emitted, before any later one
      const handoverAt = `${position(cut)}h`
      const handover = new SessionEvent.SessionEnded({
        session: key,
        at: 1_500,
        position: handoverAt,
        reason: "handover"
      })
      const elsewhere = new SessionEvent.SessionEnded({
        session: SessionKey.make("not-recorded-here"),
        at: 1_500,
        position: "00000009h",
        reason: "handover"
      })
      const dir = tempDir()
      const out = path.join(dir, "out")
      const folder = path.join(out, BOT)
      // the folder's files as they are when the handover is reported: nothing may change after it
      const filesNow = () =>
        fs.readdirSync(folder, { recursive: true, encoding: "utf8" }).sort().map((name) => {
          const file = path.join(folder, name)
          return fs.statSync(file).isFile() ? `${name} ${fs.readFileSync(file).toString("base64")}` : name
        })
      let atReport: ReadonlyArray<string> = []
      const flushed: Array<string> = []
      const flushedElsewhere: Array<string> = []
      const onFlushed = (session: SessionKey.SessionKey, at: string) =>
        Effect.sync(() => {
          if (session !== key) return flushedElsewhere.push(at)
          flushed.push(at)
          if (at === handoverAt) atReport = filesNow()
        })

      yield* SessionRecorder.recordEvents(
        Stream.fromIterable([start, ...messages.slice(0, cut), handover, elsewhere]),
        { directory: out, onFlushed }
      )
      // everything it applied, then the handover, last
      assert.deepStrictEqual(flushed.slice(-2), [position(cut), handoverAt])
      assert.deepStrictEqual(flushedElsewhere, ["00000009h"], "a handover of a session not open here is reported")
      assert.isFalse(fs.existsSync(path.join(out, "not-recorded-here")), "and opens no folder")
      assert.isAbove(atReport.length, 0)
      assert.deepStrictEqual(filesNow(), atReport, "nothing of the session is written after the handover's report")
      // not the meeting's end
      const between = json(path.join(folder, "session.json"))
      assert.isNull(between.endReason)
      assert.isNull(between.runs.at(-1).endedAt)

      // the successor emits no start: the session goes on from its folder
      yield* SessionRecorder.recordEvents(Stream.fromIterable([...messages.slice(cut), end]), { directory: out })
      yield* SessionRecorder.recordEvents(Stream.fromIterable([start, ...messages, end]), {
        directory: path.join(dir, "once")
      })
      sameAsOneShot(folder, path.join(dir, "once", BOT))
      const session = json(path.join(folder, "session.json"))
      assert.strictEqual(session.endReason, "completed")
      assert.strictEqual(session.runs.length, 1, "one run: the meeting never ended in between")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("skips what a source delivers again after a failover, and reports what is on disk", () =>
    Effect.gen(function*() {
      const items = sessionItems(sample().entries)
      const key = items.key
      const position = (i: number) => String(i).padStart(8, "0")
      // a source whose events carry positions in its log: the start at 0, message i at i + 1, the end after them
      const messages = items.messages.map((message, i) => ({ ...message, position: position(i + 1) }))
      const start = (at: number, withPosition: boolean) =>
        new SessionEvent.SessionStarted({
          ...items.start,
          at,
          position: withPosition ? position(0) : undefined
        })
      const end = new SessionEvent.SessionEnded({ ...items.end, position: position(messages.length + 1) })
      const dir = tempDir()
      const out = path.join(dir, "out")
      const folder = path.join(out, BOT)
      const flushed: Array<string> = []
      const notOnDisk: Array<string> = []
      // what session.json said when the end's position was reported
      let endedWhenReported: unknown = "not reported"
      const onFlushed = (_: SessionKey.SessionKey, at: string) =>
        Effect.sync(() => {
          // whatever is reported is on disk already (the start and the end are control events, in control.jsonl)
          const onDisk = readTapeSoFar(path.join(folder, "events.jsonl")).map((e) => e.position)
          if (at !== position(0) && at !== position(messages.length + 1) && !onDisk.includes(at)) notOnDisk.push(at)
          if (at === position(messages.length + 1)) {
            endedWhenReported = json(path.join(folder, "session.json")).endReason
          }
          flushed.push(at)
        })
      const recordItems = (items: ReadonlyArray<SessionEvent.SessionEvent>, directory: string) =>
        SessionRecorder.recordSession(
          { key, events: Stream.fromIterable(items) },
          { directory, onFlushed: directory === out ? onFlushed : undefined }
        )

      const cut = Math.floor(messages.length * 0.7)
      const again = Math.floor(messages.length * 0.4)
      // the first worker got [0, 70%) and went away; the next one is handed everything from 40% on
      yield* recordItems([start(1_000, true), ...messages.slice(0, cut)], out)
      assert.strictEqual(flushed.at(-1), position(cut))
      yield* recordItems([start(1_500, false), ...messages.slice(again), end], out)
      yield* recordItems([start(1_000, true), ...messages, end], path.join(dir, "once"))

      sameAsOneShot(folder, path.join(dir, "once", BOT))
      const session = json(path.join(folder, "session.json"))
      assert.strictEqual(session.recorder.redeliveriesSkipped, cut - again)
      assert.deepStrictEqual(flushed, [...flushed].sort(), "positions are reported in order")
      assert.deepStrictEqual(notOnDisk, [], "onFlushed reports only what is on disk")
      assert.strictEqual(flushed.at(-1), position(messages.length + 1))
      // the end is reported only once the files that say so are written (a transport forgets the session then)
      assert.strictEqual(endedWhenReported, "completed")
      const lines = readTape(path.join(folder, "events.jsonl"))
      assert.deepStrictEqual(lines.map((e) => e.position), messages.map((m) => m.position), "each message once")
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("H.264 streams across a restart", () => {
  it.live("are cut back to the frames the tape holds, so frames delivered again after a kill are written once", () =>
    Effect.gen(function*() {
      const meeting = sample()
      const items = sessionItems(meeting.entries)
      const key = items.key
      // two participants send H.264 screenshare frames, interleaved with everything else
      const h264 = h264Frames(key, meeting.participants.slice(0, 2), 30)
      const interleaved = [...items.messages]
      h264.forEach((item, i) => interleaved.splice(Math.floor((i * interleaved.length) / h264.length), 0, item))
      // positioned, as a scale-out source's events are: a successor is handed what was not acknowledged
      const position = (i: number) => String(i).padStart(8, "0")
      const messages = interleaved.map((message, i) => ({ ...message, position: position(i + 1) }))
      const start = new SessionEvent.SessionStarted({ ...items.start, position: position(0) })
      const end = new SessionEvent.SessionEnded({ ...items.end, position: position(messages.length + 1) })
      const cut = Math.floor(messages.length / 2)
      // the next frames after the cut, as a kill leaves them: in their streams, but not on the tape
      const unlogged = messages.slice(cut).filter((m) => m.event.event === "video_separate_h264.data").slice(0, 3)
      assert.strictEqual(unlogged.length, 3)
      const dir = tempDir()
      yield* SessionRecorder.recordEvents(Stream.fromIterable([start, ...messages, end]), {
        directory: path.join(dir, "once")
      })
      const streams = fs.readdirSync(path.join(dir, "once", BOT, "video"), { recursive: true, encoding: "utf8" })
        .filter((name) => name.endsWith(".h264"))
      assert.strictEqual(streams.length, 2)

      for (const damage of ["checkpoint", "no checkpoint"] as const) {
        const out = path.join(dir, damage.replace(" ", "-"))
        const folder = path.join(out, BOT)
        yield* SessionRecorder.recordEvents(Stream.fromIterable([start, ...messages.slice(0, cut)]), { directory: out })
        if (damage === "no checkpoint") fs.rmSync(path.join(folder, "checkpoint.json"))
        for (const frame of unlogged) {
          const { buffer, participant } = (frame.event as RecallEvent.VideoEvent).data.data
          const file = path.join(folder, "video", `participant-${participant.id}`, "screenshare.h264")
          fs.appendFileSync(file, Buffer.from(buffer, "base64"))
        }
        // the successor is delivered everything after the cut, the frames already in the streams among it
        yield* SessionRecorder.recordEvents(Stream.fromIterable([...messages.slice(cut), end]), { directory: out })
        for (const name of streams) {
          assert.strictEqual(
            fs.readFileSync(path.join(folder, "video", name), "utf8"),
            fs.readFileSync(path.join(dir, "once", BOT, "video", name), "utf8"),
            `${damage}: ${name}`
          )
        }
        sameAsOneShot(folder, path.join(dir, "once", BOT))
      }
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("H.264 bytes given up", () => {
  it.live("are counted out when a restart cuts a stream back, so a frame a kill left in it is still written once", () => {
    const meeting = sample()
    const items = sessionItems(meeting.entries)
    const key = items.key
    // frames of 64 KiB; five that the disk refuses (a write holding any of them fails): the recorder keeps a
    // stream's unwritten bytes up to 256 KiB, so the fifth makes it give them up
    const BAD = [10, 11, 12, 13, 14]
    const h264 = h264Frames(
      key,
      meeting.participants.slice(0, 1),
      40,
      (id, i) => `frame ${id}.${i}${BAD.includes(i) ? " refused" : ""};`.padEnd(64 * 1024, ".")
    )
    const interleaved = [...items.messages]
    h264.forEach((item, i) => interleaved.splice(Math.floor((i * interleaved.length) / h264.length) + i, 0, item))
    const position = (i: number) => String(i).padStart(8, "0")
    const messages = interleaved.map((message, i) => ({ ...message, position: position(i + 1) }))
    const start = new SessionEvent.SessionStarted({ ...items.start, position: position(0) })
    const end = new SessionEvent.SessionEnded({ ...items.end, position: position(messages.length + 1) })
    const indexOf = (frame: number) => interleaved.indexOf(h264[frame]!)
    // the first run ends before frame 30, which a kill then leaves in the stream but not on the tape
    const cut = indexOf(30)
    const dir = tempDir()
    const folder = path.join(dir, BOT)
    const stream = path.join(folder, "video", "participant-100", "screenshare.h264")
    const checkpoint = path.join(folder, "checkpoint.json")
    // the first checkpoint that counts bytes the stream does not hold (refused ones, waiting) is the last one
    // written: as if the process were killed before the next
    let stale: number | undefined
    const failing: FailingFileSystem.Failing = (operation, file, bytes) => {
      if (operation === "write" && file === stream) return bytes !== undefined && Buffer.from(bytes).includes("refused")
      if (operation !== "rename" || file !== checkpoint) return false
      if (stale !== undefined) return true
      const counted = Object.values((json(`${file}.partial`).streams ?? {}) as Record<string, number>)[0] ?? 0
      if (fs.existsSync(stream) && counted > fs.statSync(stream).size) stale = counted
      return false
    }
    return Effect.gen(function*() {
      // a pause before the fifth refused frame: a checkpoint comes while the four before it wait
      const pause = { before: indexOf(14) + 1, millis: 1500 }
      yield* paced(key, [start, ...messages.slice(0, cut)], dir, undefined, pause).pipe(
        Effect.provide(FailingFileSystem.layer(failing))
      )
      assert.isDefined(stale, "a checkpoint counted refused bytes")
      assert.isAtLeast(json(path.join(folder, "session.json")).recorder.lostBytes, 5 * 64 * 1024)
      assert.strictEqual(json(checkpoint).streams["video/participant-100/screenshare.h264"], stale)
      fs.appendFileSync(stream, Buffer.from((h264[30]!.event as RecallEvent.VideoEvent).data.data.buffer, "base64"))
      yield* paced(key, [...messages.slice(cut), end], dir).pipe(Effect.provide(NodeContext.layer))

      const frames = fs.readFileSync(stream, "latin1").split(";").map((part) => part.replace(/^\.*/, ""))
        .filter((part) => part !== "").map((part) => Number(part.split(" ")[1]!.split(".")[1]))
      assert.deepStrictEqual(frames, [...frames].sort((a, b) => a - b), "in order")
      assert.strictEqual(new Set(frames).size, frames.length, "each frame once")
      // a good frame waiting beside refused ones is given up with them, and so are those that come while the
      // stream waits to be tried again: which, depends on the timing; the first and the last ten are always there
      assert.strictEqual(frames[0], 0)
      assert.deepStrictEqual(frames.slice(-10), [30, 31, 32, 33, 34, 35, 36, 37, 38, 39])
      assert.isFalse(frames.some((frame) => BAD.includes(frame)), "the refused frames were given up")
    })
  })

  it.live("when the session ends, are recorded in the control log, which is not given up with them", () => {
    const meeting = sample()
    const items = sessionItems(meeting.entries)
    const h264 = h264Frames(items.key, meeting.participants.slice(0, 1), 5)
    const dir = tempDir()
    const folder = path.join(dir, BOT)
    const stream = path.join(folder, "video", "participant-100", "screenshare.h264")
    // the stream is never written; the session ends with its frames waiting (fewer than the recorder keeps)
    const failing: FailingFileSystem.Failing = (operation, file) => operation === "write" && file === stream
    return Effect.gen(function*() {
      yield* paced(items.key, [items.start, ...h264, items.end], dir)
      const bytes = h264.reduce(
        (sum, frame) => sum + Buffer.from((frame.event as RecallEvent.VideoEvent).data.data.buffer, "base64").length,
        0
      )
      const givenUp = fs.readFileSync(path.join(folder, "control.jsonl"), "utf8").split("\n")
        .filter((line) => line.includes("givenUp")).map((line) => JSON.parse(line).givenUp)
      assert.deepStrictEqual(givenUp, [{ file: "video/participant-100/screenshare.h264", bytes }])
      const session = json(path.join(folder, "session.json"))
      assert.strictEqual(session.recorder.lostBytes, bytes, "only the stream's bytes are lost")
      assert.deepStrictEqual(session.errors.map((error: any) => error.source), [
        "video/participant-100/screenshare.h264"
      ])
    }).pipe(Effect.provide(FailingFileSystem.layer(failing)))
  })
})
