/**
 * Recorder throughput: many sessions' events, from generated meetings, through `SessionRecorder.recordAll` into a
 * temporary folder, with no socket in front (the server has its own benchmark).
 *
 *   npx tsx bench/recorder.ts                       # as fast as the recorder takes it
 *   BENCH_SPEED=1 BENCH_SESSIONS=300 npx tsx bench/recorder.ts   # paced: meeting time runs at 1x wall time
 *
 * Each session replays a generated meeting (core's `SampleMeeting`, three participants, mixed and separate audio,
 * webcam PNGs at 2 fps: about 20 messages per second of meeting; with `BENCH_VIDEO=0 BENCH_SEPARATE=0`, mixed audio
 * and participant and transcript events, about 11 a second, the load of a typical bot) under its own key, with the
 * raw JSON text kept as the server keeps it. Payload objects are copied per session, so every session pays for its
 * own base64 decoding. As fast as possible, a session's events come in chunks of `BENCH_CHUNK`; paced
 * (`BENCH_SPEED` > 0), each 100 ms of meeting arrives at its time, pushed into every session's Stream by one timer,
 * as socket callbacks push them.
 *
 * It reports messages per second of wall-clock time, CPU per message (user plus system time of the whole process,
 * every thread, libuv's file system pool included, divided by the messages recorded) and CPU as a share of one
 * core (what decides how many live meetings a core records, in a paced run). The same input read to its end with
 * nothing recorded ("source only") is measured in the same rounds; its cost subtracted gives the recorder's own.
 * Every round checks the output: each session's `session.json` counts every message, and each tape holds one line
 * per message. On a machine shared with other work, compare CPU per message; wall-clock figures move with the
 * load.
 *
 * Settings: `BENCH_SESSIONS` (default 100), `BENCH_DURATION` meeting seconds (30), `BENCH_CHUNK` (4),
 * `BENCH_ROUNDS` (3), `BENCH_SPEED` (0: as fast as possible), `BENCH_VIDEO` (1), `BENCH_SEPARATE` (1),
 * `BENCH_OPTIONS` (recorder options as JSON, e.g. `{"flushInterval": 1000}`), `BENCH_FS=noop` (a file system that
 * takes every write at once and keeps nothing: the recorder's cost without any I/O).
 * `BENCH_COMPARE=<file>` also measures another `SessionRecorder` module (e.g. an older version checked out
 * elsewhere), alternating with this one round by round, so both see the same machine load.
 */
import { Decoder, SampleMeeting, SessionEvent, SessionKey } from "@callstream/core"
import { SessionRecorder as Current } from "@callstream/sinks"
import { NodeContext, NodePath } from "@effect/platform-node"
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const sessions = Number(process.env.BENCH_SESSIONS ?? 100)
const duration = Number(process.env.BENCH_DURATION ?? 30)
const chunk = Number(process.env.BENCH_CHUNK ?? 4)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const speed = Number(process.env.BENCH_SPEED ?? 0)
const video = (process.env.BENCH_VIDEO ?? "1") !== "0"
const separate = (process.env.BENCH_SEPARATE ?? "1") !== "0"
const recorderOptions = JSON.parse(process.env.BENCH_OPTIONS ?? "{}") as Partial<Current.Options>
const noopDisk = process.env.BENCH_FS === "noop"

// a disk that takes every write at once and holds nothing: what the recorder costs without any I/O
const noopFile: FileSystem.File = {
  [FileSystem.FileTypeId]: FileSystem.FileTypeId,
  fd: FileSystem.FileDescriptor(0),
  stat: Effect.succeed({
    type: "File",
    mtime: Option.none(),
    atime: Option.none(),
    birthtime: Option.none(),
    dev: 0,
    ino: Option.none(),
    mode: 0,
    nlink: Option.none(),
    uid: Option.none(),
    gid: Option.none(),
    rdev: Option.none(),
    size: FileSystem.Size(0),
    blksize: Option.none(),
    blocks: Option.none()
  }),
  seek: () => Effect.void,
  sync: Effect.void,
  read: () => Effect.succeed(FileSystem.Size(0)),
  readAlloc: () => Effect.succeed(Option.none()),
  truncate: () => Effect.void,
  write: (bytes) => Effect.succeed(FileSystem.Size(bytes.byteLength)),
  writeAll: () => Effect.void
}
const notFound = (method: string) => new SystemError({ reason: "NotFound", module: "FileSystem", method })
const noopLayer = Layer.merge(
  FileSystem.layerNoop({
    exists: () => Effect.succeed(false),
    stat: () => Effect.fail(notFound("stat")),
    readDirectory: () => Effect.succeed([]),
    readFileString: () => Effect.fail(notFound("readFileString")),
    makeDirectory: () => Effect.void,
    writeFile: () => Effect.void,
    writeFileString: () => Effect.void,
    rename: () => Effect.void,
    open: () => Effect.succeed(noopFile)
  }),
  NodePath.layer
)

// -- the load -------------------------------------------------------------------

interface Line {
  readonly at: number
  readonly raw: string
  readonly event: ReturnType<typeof Decoder.decodeEither> extends Either.Either<infer A, unknown> ? A : never
}

const VARIANTS = 4
const meetings: ReadonlyArray<ReadonlyArray<Line>> = Array.from(
  { length: VARIANTS },
  (_, seed) =>
    SampleMeeting.generate({ seed: seed + 1, duration, separate, video }).entries.map((entry) => {
      const raw = JSON.stringify(entry.message)
      return { at: entry.at, raw, event: Either.getOrThrow(Decoder.decodeEither(raw)) }
    })
)
const perSession = meetings.map((m) => m.length)
const totalMessages = Array.from({ length: sessions }, (_, i) => perSession[i % VARIANTS]!).reduce((a, b) => a + b, 0)

// a fresh payload object per session and message: media buffers are decoded (and cached) per payload
const copyOf = (event: Line["event"]): Line["event"] => {
  const data = event.data as { readonly data?: unknown }
  if (typeof data !== "object" || data === null || typeof data.data !== "object" || data.data === null) return event
  return { ...event, data: { ...data, data: { ...data.data } } } as Line["event"]
}

const sessionOf = (index: number, origin: number): SessionRecorderSession => {
  const key = SessionKey.make(`bench-${String(index).padStart(5, "0")}`)
  const lines = meetings[index % VARIANTS]!
  const started = new SessionEvent.SessionStarted({
    session: key,
    at: origin,
    botId: key,
    recordingId: null,
    metadata: null
  })
  const ended = new SessionEvent.SessionEnded({ session: key, at: origin, reason: "completed" })
  const messages = (from: number, to: number): Array<SessionEvent.SessionEvent> => {
    const out: Array<SessionEvent.SessionEvent> = []
    for (let i = from; i < to; i++) {
      const line = lines[i]!
      out.push(SessionEvent.message(key, copyOf(line.event), origin + line.at * 1000, { raw: line.raw }))
    }
    return out
  }
  if (speed <= 0) {
    const batches = Math.ceil(lines.length / chunk)
    const body = Stream.range(0, batches - 1).pipe(
      Stream.mapConcat((b) => messages(b * chunk, Math.min(lines.length, (b + 1) * chunk))),
      Stream.rechunk(chunk)
    )
    return { key, events: Stream.make(started).pipe(Stream.concat(body), Stream.concat(Stream.make(ended))) }
  }
  // paced: the messages of each 100 ms of meeting time arrive together, pushed by one timer for all sessions (as a
  // server's socket callbacks push them), so the source itself costs little
  let cursor = 0
  const events = Stream.asyncPush<SessionEvent.SessionEvent>((emit) =>
    Effect.sync(() =>
      pace(() => {
        const from = cursor
        const step = (Date.now() - origin) / 100 * speed
        while (cursor < lines.length && lines[cursor]!.at * 10 < step) cursor++
        if (cursor > from) emit.chunk(Chunk.unsafeFromArray(messages(from, cursor)))
        if (cursor < lines.length) return true
        void emit.end()
        return false
      })
    ), { bufferSize: "unbounded" })
  return { key, events: Stream.make(started).pipe(Stream.concat(events), Stream.concat(Stream.make(ended))) }
}

// one timer steps every paced session every 100 ms of meeting time; a step answers whether its session goes on
const pacing = new Set<() => boolean>()
let pacer: ReturnType<typeof setInterval> | undefined
const pace = (step: () => boolean) => {
  pacing.add(step)
  pacer ??= setInterval(() => {
    for (const next of pacing) if (!next()) pacing.delete(next)
    if (pacing.size === 0) {
      clearInterval(pacer)
      pacer = undefined
    }
  }, 100 / speed)
}

interface SessionRecorderSession {
  readonly key: SessionKey.SessionKey
  readonly events: Stream.Stream<SessionEvent.SessionEvent>
}

// -- one round --------------------------------------------------------------------

interface Measure {
  readonly seconds: number
  readonly cpuSeconds: number
  readonly systemSeconds: number
  readonly messages: number
}

const check = (directory: string) => {
  let recorded = 0
  for (const folder of fs.readdirSync(directory)) {
    const summary = JSON.parse(fs.readFileSync(path.join(directory, folder, "session.json"), "utf8"))
    const lines = fs.readFileSync(path.join(directory, folder, "events.jsonl"), "utf8").split("\n").length - 1
    if (lines !== summary.counts.messages) throw new Error(`${folder}: ${lines} tape lines, ${summary.counts.messages}`)
    recorded += summary.counts.messages
  }
  if (recorded !== totalMessages) throw new Error(`recorded ${recorded} of ${totalMessages} messages`)
}

type Recorder = Pick<typeof Current, "recordAll">

// the input alone: every session's Stream read to its end, nothing recorded (what the source itself costs)
const sourceOnly: Recorder = {
  recordAll: (sessions) =>
    sessions.pipe(
      Stream.mapEffect((session) => Stream.runDrain(session.events).pipe(Effect.orDie), { concurrency: "unbounded" }),
      Stream.runDrain
    ) as Effect.Effect<void, never, never>
}

const round = async (SessionRecorder: Recorder): Promise<Measure> => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "callstream-bench-recorder-"))
  const origin = Date.now() + 200
  const all = Array.from({ length: sessions }, (_, i) => sessionOf(i, origin))
  const cpu = process.cpuUsage()
  const start = performance.now()
  await SessionRecorder.recordAll(Stream.fromIterable(all), { ...recorderOptions, directory }).pipe(
    Effect.provide(noopDisk ? noopLayer : NodeContext.layer),
    Effect.provide(Logger.minimumLogLevel(LogLevel.Error)),
    Effect.runPromise
  )
  const seconds = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  if (SessionRecorder !== sourceOnly && !noopDisk) check(directory)
  fs.rmSync(directory, { recursive: true, force: true })
  return {
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    systemSeconds: used.system / 1e6,
    messages: totalMessages
  }
}

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const report = (label: string, results: ReadonlyArray<Measure>) => {
  const rate = median(results.map((m) => m.messages / m.seconds))
  const perMessage = median(results.map((m) => (m.cpuSeconds * 1e6) / m.messages))
  const share = median(results.map((m) => m.cpuSeconds / m.seconds))
  console.log(
    `${label} median: ${rate.toFixed(0)} messages/s, ${perMessage.toFixed(1)} µs CPU per message, ` +
      `${(share * 100).toFixed(0)}% of a core`
  )
  return perMessage
}

const main = async () => {
  const mode = speed > 0 ? `paced at ${speed}x` : "as fast as possible"
  console.log(
    `recorder: ${sessions} sessions x ${duration} s of meeting (${totalMessages} messages, chunks of ${chunk}), ` +
      `${mode}; ${os.cpus().length} cores, Node ${process.version}`
  )
  const compare = process.env.BENCH_COMPARE
  const contenders: Array<readonly [string, Recorder]> = [["this", Current], ["source only", sourceOnly]]
  if (compare !== undefined) contenders.push(["compared", (await import(path.resolve(compare))) as Recorder])
  const results = contenders.map(() => [] as Array<Measure>)
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < contenders.length; c++) {
      // alternate which goes first
      const which = (c + r) % contenders.length
      const [label, recorder] = contenders[which]!
      const m = await round(recorder)
      results[which]!.push(m)
      console.log(
        `round ${r + 1} ${label}: ${(m.messages / m.seconds).toFixed(0)} messages/s, ` +
          `${((m.cpuSeconds * 1e6) / m.messages).toFixed(1)} µs CPU per message ` +
          `(${((m.systemSeconds * 1e6) / m.messages).toFixed(1)} in the kernel), ` +
          `CPU ${((m.cpuSeconds / m.seconds) * 100).toFixed(0)}% of a core over ${m.seconds.toFixed(1)} s`
      )
    }
  }
  const mine = report("this", results[0]!)
  const source = report("source only", results[1]!)
  console.log(`recording alone (this minus the source): ${(mine - source).toFixed(1)} µs CPU per message`)
  if (contenders.length > 2) {
    const theirs = report("compared", results[2]!)
    console.log(
      `CPU per message, compared / this: ${(theirs / mine).toFixed(2)}x; recording alone: ` +
        `${((theirs - source) / (mine - source)).toFixed(2)}x`
    )
  }
}

void main()
