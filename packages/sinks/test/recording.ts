// Shared by the recorder tests: record tapes into temporary folders and read the results back.
import { Decoder, EventSource, Fixtures, SampleMeeting, SessionEvent, SessionKey, Tape } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Stream from "effect/Stream"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as SessionRecorder from "../src/SessionRecorder.js"
import * as FailingFileSystem from "./failingFileSystem.js"
import { readWav } from "./helpers.js"

export const BOT = "5f0c2a7e-4a51-4d0b-9c8e-6a3f1d2b9e10"

/** The shared fixture, next to the repository in a full checkout (absent in a user's clone). */
export const SHARED_FIXTURE = fileURLToPath(
  new URL("../../../../shared/fixtures/sample-meeting.jsonl", import.meta.url)
)
export const SHARED_TRUTH = SHARED_FIXTURE.replace(".jsonl", ".truth.json")

export const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "callstream-sinks-"))

export const writeTape = (dir: string, entries: ReadonlyArray<Tape.TapeEntry>, name = "tape.jsonl"): string => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, entries.map((entry) => Tape.formatLine(entry.at, entry.message)).join(""))
  return file
}

const entriesOf = (text: string): ReadonlyArray<Tape.TapeEntry> =>
  text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line))

export const readTape = (file: string): ReadonlyArray<Tape.TapeEntry> => entriesOf(fs.readFileSync(file, "utf8"))

/**
 * The entries of a tape that a recorder may still be writing: its whole lines only (the last one may be half written
 * when the test reads; `readTape` would fail on it). None while the file does not exist.
 */
export const readTapeSoFar = (file: string): ReadonlyArray<Tape.TapeEntry> => {
  if (!fs.existsSync(file)) return []
  const text = fs.readFileSync(file, "utf8")
  return entriesOf(text.slice(0, text.lastIndexOf("\n") + 1))
}

/** Records a tape file into `out` with the session recorder, as fast as it reads. */
export const record = (tape: string, out: string, options: Partial<SessionRecorder.Options> = {}) =>
  SessionRecorder.run({ directory: out, ...options }).pipe(
    Effect.provide(EventSource.fromTape(tape)),
    Effect.provide(NodeContext.layer),
    Effect.runPromise
  )

export const sample = (options: SampleMeeting.Options = SampleMeeting.FIXTURE) => SampleMeeting.generate(options)

/** Tape entries as one session's Stream carries them: a start, every message (raw text kept), an end. */
export const sessionItems = (entries: ReadonlyArray<Tape.TapeEntry>, botId = BOT) => {
  const key = SessionKey.make(botId)
  const messages = entries.map((entry) => {
    const raw = JSON.stringify(entry.message)
    return SessionEvent.message(key, Either.getOrThrow(Decoder.decodeEither(raw)), 1_000 + entry.at * 1000, { raw })
  })
  const start = new SessionEvent.SessionStarted({ session: key, at: 1_000, botId, recordingId: null, metadata: null })
  const end = new SessionEvent.SessionEnded({ session: key, at: 2_000, reason: "completed" })
  return { key, messages, start, end, all: [start, ...messages, end] as ReadonlyArray<SessionEvent.SessionEvent> }
}

export const wavOf = (file: string) => readWav(fs.readFileSync(file))

export const json = (file: string): any => JSON.parse(fs.readFileSync(file, "utf8"))

const hasFfprobe = spawnSync("ffprobe", ["-version"]).status === 0

/**
 * Whether the ffprobe checks run: yes when ffprobe is installed; when it is not, they are skipped locally (with a
 * message) and fail on CI, where `.ci/run` installs it.
 */
export const ffprobeAvailable = (): boolean => {
  if (hasFfprobe) return true
  if (process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false") {
    throw new Error("ffprobe is missing on CI: .ci/run must install Debian's ffmpeg")
  }
  console.warn("ffprobe not found: skipping the checks of outputs in a standard tool (install ffmpeg to run them)")
  return false
}

export const ffprobe = (file: string, entries: string): any => {
  const result = spawnSync(
    "ffprobe",
    ["-v", "error", "-count_packets", "-show_entries", entries, "-of", "json", file],
    {
      encoding: "utf8"
    }
  )
  if (result.status !== 0) throw new Error(`ffprobe rejected ${file}: ${result.stderr}`)
  return JSON.parse(result.stdout)
}

/**
 * Records one session's events in small chunks with pauses and short intervals, so that the recorder flushes (and
 * moves finals and intervals out of memory) many times; `onEvent` hears the index of each event as it goes in, and
 * `pause` holds the events back for a while before the one at its index.
 */
export const paced = (
  key: SessionKey.SessionKey,
  events: ReadonlyArray<SessionEvent.SessionEvent>,
  directory: string,
  onEvent: (index: number) => void = () => {},
  pause?: { readonly before: number; readonly millis: number }
) =>
  SessionRecorder.recordSession({
    key,
    events: Stream.fromIterable(events).pipe(
      Stream.rechunk(40),
      Stream.chunks,
      Stream.tap(() => Effect.sleep("5 millis")),
      Stream.flattenChunks,
      Stream.zipWithIndex,
      Stream.tap(([, index]) => (index === pause?.before ? Effect.sleep(pause.millis) : Effect.void)),
      Stream.map(([event, index]) => {
        onEvent(index)
        return event
      })
    )
  }, { directory, flushInterval: "10 millis", exportInterval: "20 millis", checkpointInterval: "20 millis" })

/** The lines of a file of a session folder (one of the `*.settled.jsonl`). */
export const linesOf = (folder: string, name: string): Array<string> =>
  fs.readFileSync(path.join(folder, name), "utf8").split("\n").filter((line) => line !== "")

/**
 * Records all of a session's events paced (see {@link paced}) into a new folder: the folder, how many lines and bytes
 * the settled file `settled` holds, and the checkpoint.
 */
export const recordPacedWhole = (items: ReturnType<typeof sessionItems>, settled: string) =>
  Effect.gen(function*() {
    const dir = tempDir()
    yield* paced(items.key, items.all, dir)
    const folder = path.join(dir, BOT)
    return {
      folder,
      lines: linesOf(folder, settled).length,
      bytes: fs.statSync(path.join(folder, settled)).size,
      checkpoint: json(path.join(folder, "checkpoint.json"))
    }
  })

/**
 * Records the first half of a session's messages, damages what a restart finds (a line appended to the settled file
 * `settled` after the checkpoint, as if moved out and then killed; or no checkpoint at all), records the rest into
 * the same folder, and returns the folder.
 */
export const recordAcrossRestart = (
  items: ReturnType<typeof sessionItems>,
  settled: string,
  damage: "a line after the checkpoint" | "no checkpoint"
) =>
  Effect.gen(function*() {
    const messages = items.all.slice(1, -1)
    const half = Math.floor(messages.length / 2)
    const dir = tempDir()
    const folder = path.join(dir, BOT)
    yield* paced(items.key, [items.start, ...messages.slice(0, half)], dir)
    const lines = linesOf(folder, settled)
    if (lines.length === 0) throw new Error(`nothing was moved to ${settled} before the restart`)
    if (damage === "no checkpoint") fs.rmSync(path.join(folder, "checkpoint.json"))
    // the restart replays them from the tape, so the file is cut back to what the checkpoint counted
    else fs.appendFileSync(path.join(folder, settled), lines.at(-1) + "\n")
    yield* paced(items.key, [items.start, ...messages.slice(half), items.end], dir)
    return folder
  })

/**
 * Records all of a session's messages paced (see {@link paced}) into a new folder on a disk that fails every write
 * of the settled file `settled` until half the messages are in (a retry waits a second: the last flush's write is
 * the one that gets through); `atHalf` sees the folder then. The folder, and how many writes failed.
 */
export const recordWithFailingWrites = (
  items: ReturnType<typeof sessionItems>,
  settled: string,
  atHalf: (folder: string) => void = () => {}
) => {
  const disk = FailingFileSystem.writesFailingUntilStopped(settled)
  const half = Math.floor(items.all.length / 2)
  return Effect.gen(function*() {
    const dir = tempDir()
    const folder = path.join(dir, BOT)
    yield* paced(items.key, items.all, dir, (index) => {
      if (index !== half) return
      atHalf(folder)
      disk.stop()
    })
    return { folder, failures: disk.failures() }
  }).pipe(Effect.provide(disk.layer))
}

/** What the tests of a settled file look at in a folder. */
export interface SettledFile {
  /** The file's name. */
  readonly file: string
  /** Where the checkpoint says how much of the file belongs to its state. */
  readonly offsets: "settled" | "intervals" | "chat"
  /** What the derived files rendered from it and from the state hold, as one value to compare. */
  readonly derived: (folder: string) => unknown
  /** How many of the file's values the checkpoint's state holds in memory. */
  readonly held: (checkpoint: any) => number
}

/**
 * The folder's derived files are what a recording that kept everything in memory renders (`want.derived`), and the
 * settled file and the checkpoint's state hold `want.total` values together.
 */
export const assertSettled = (
  folder: string,
  settled: SettledFile,
  want: { readonly derived: unknown; readonly total: number },
  label?: string
): void => {
  assert.deepStrictEqual(settled.derived(folder), want.derived, label)
  const checkpoint = json(path.join(folder, "checkpoint.json"))
  assert.strictEqual(linesOf(folder, settled.file).length + settled.held(checkpoint), want.total, label)
}

const quiet = Logger.minimumLogLevel(LogLevel.Error)

/**
 * The test that a paced recording moves most values out of memory into the settled file while the derived files
 * still hold every one: the settled file and the checkpoint's state hold `want().total` together, most of them in
 * the file, and the checkpoint counts the file's lines and bytes. `more` checks what else the checkpoint should say.
 */
export const itHoldsOutOfMemory = (
  name: string,
  items: ReturnType<typeof sessionItems>,
  settled: SettledFile,
  want: () => { readonly derived: unknown; readonly total: number },
  more: (checkpoint: any, total: number) => void = () => {}
) =>
  it.live(name, () =>
    Effect.gen(function*() {
      const { derived, total } = want()
      assert.isAbove(total, 40, "a meeting with many values to move out")
      const { bytes, checkpoint, folder, lines } = yield* recordPacedWhole(items, settled.file)
      assert.deepStrictEqual(settled.derived(folder), derived)
      // most values left memory: the checkpoint's state holds the rest, the file says how much of it is its
      assert.isAbove(lines, total / 2)
      assert.strictEqual(lines + settled.held(checkpoint), total)
      assert.strictEqual(checkpoint[settled.offsets].lines, lines)
      assert.strictEqual(checkpoint[settled.offsets].bytes, bytes)
      more(checkpoint, total)
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

/**
 * The test that a restart continues a settled file: recorded across a restart each way (see
 * {@link recordAcrossRestart}), each folder as {@link assertSettled} wants it.
 */
export const itContinuesAcrossRestarts = (
  items: ReturnType<typeof sessionItems>,
  settled: SettledFile,
  want: () => { readonly derived: unknown; readonly total: number }
) =>
  it.live("a restart continues from it: cut back to the checkpoint, or rebuilt from the logs without one", () =>
    Effect.forEach(
      ["a line after the checkpoint", "no checkpoint"] as const,
      (damage) =>
        Effect.map(
          recordAcrossRestart(items, settled.file, damage),
          (folder) => assertSettled(folder, settled, want(), damage)
        ),
      { discard: true }
    ).pipe(Effect.provide(NodeContext.layer), Effect.provide(quiet)))

/**
 * The test that failed writes of a settled file are tried again (see {@link recordWithFailingWrites}) and that
 * `derivedName`, rendered from it, ends complete.
 */
export const itRetriesFailedWrites = (
  items: ReturnType<typeof sessionItems>,
  settled: SettledFile,
  derivedName: string,
  want: () => { readonly derived: unknown; readonly total: number }
) =>
  it.live(`writes of it that fail are tried again; ${derivedName} waits for them and ends complete`, () =>
    Effect.gen(function*() {
      const { failures, folder } = yield* recordWithFailingWrites(items, settled.file)
      assert.isAbove(failures, 0, `a write of ${settled.file} failed`)
      assertSettled(folder, settled, want())
      assert.isAbove(json(path.join(folder, "session.json")).recorder.writeFailures, 0)
    }).pipe(Effect.provide(quiet)))

/**
 * A settled file whose every write fails: what it could not write by the session's end is given up with the other
 * logs' unwritten lines, counted in `session.json` (`recorder.lostBytes`, an error of the tape's).
 */
export const itGivesUpWritesThatNeverSucceed = (items: ReturnType<typeof sessionItems>, settled: SettledFile) =>
  it.live(`writes of it that never succeed are given up at the end and counted`, () => {
    const disk = FailingFileSystem.writesFailingUntilStopped(settled.file)
    return Effect.gen(function*() {
      const dir = tempDir()
      yield* paced(items.key, items.all, dir)
      assert.isAbove(disk.failures(), 0, `a write of ${settled.file} failed`)
      const session = json(path.join(dir, BOT, "session.json"))
      assert.isAbove(session.recorder.lostBytes, 0)
      assert.isTrue(
        session.errors.some((error: any) =>
          error.source === "events.jsonl" && /lines could not be written/.test(error.message)
        ),
        "the unwritten lines are an error of the logs"
      )
    }).pipe(Effect.provide(disk.layer), Effect.provide(quiet))
  })

/**
 * `count` H.264 screenshare frames of each of `participants` as one session's messages (raw text kept), frame `i`
 * of participant `p` at meeting time `i + p / 10`, its bytes the text `text(id, i)` (default `frame <id>.<i>;`).
 */
export const h264Frames = (
  key: SessionKey.SessionKey,
  participants: ReadonlyArray<SampleMeeting.SampleParticipant>,
  count: number,
  text: (participantId: number | null, i: number) => string = (id, i) => `frame ${id}.${i};`
): ReadonlyArray<SessionEvent.Message> =>
  participants.flatMap(({ participant }, p) =>
    Array.from({ length: count }, (_, i) => {
      const buffer = Buffer.from(text(participant.id, i)).toString("base64")
      const wire = Fixtures.video({
        botId: BOT,
        participant,
        at: i + p / 10,
        format: "h264",
        type: "screenshare",
        buffer
      })
      const raw = JSON.stringify(wire)
      return SessionEvent.message(key, Either.getOrThrow(Decoder.decodeEither(raw)), 0, { raw })
    })
  )
