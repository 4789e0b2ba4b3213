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
import type * as Path from "@effect/platform/Path"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as Inspector from "node:inspector/promises"
import * as os from "node:os"
import * as path from "node:path"

const sessions = Number(process.env.BENCH_SESSIONS ?? 100)
const duration = Number(process.env.BENCH_DURATION ?? 30)
const chunk = Number(process.env.BENCH_CHUNK ?? 4)
const tick = Number(process.env.BENCH_TICK ?? 10)
const mode = process.env.BENCH_MODE ?? "flat"
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const speed = Number(process.env.BENCH_SPEED ?? 0)
const video = (process.env.BENCH_VIDEO ?? "1") !== "0"
const separate = (process.env.BENCH_SEPARATE ?? "1") !== "0"
const recorderOptions = JSON.parse(process.env.BENCH_OPTIONS ?? "{}") as Partial<Current.Options>
const noopDisk = process.env.BENCH_FS === "noop"
const profile = process.env.BENCH_PROFILE

// a CPU profile of the recording alone (not of the set-up, the checks or the clean-up), written to BENCH_PROFILE
const startProfile = async () => {
  const session = new Inspector.Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.start")
  return async () => {
    const { profile: result } = await session.post("Profiler.stop")
    fs.writeFileSync(profile!, JSON.stringify(result))
    session.disconnect()
  }
}

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

// one session's meeting: its start, its messages (built when they are sent) and its end
interface Plan {
  readonly key: SessionKey.SessionKey
  readonly lines: ReadonlyArray<Line>
  /** Wall-clock time of meeting time 0 (sessions are spread over the first 100 ms, as bots' sends are). */
  readonly origin: number
  readonly started: SessionEvent.SessionEvent
  readonly ended: SessionEvent.SessionEvent
  cursor: number
}

const planOf = (index: number, origin: number): Plan => {
  const key = SessionKey.make(`bench-${String(index).padStart(5, "0")}`)
  const start = origin + (index * 100) / sessions
  return {
    key,
    lines: meetings[index % VARIANTS]!,
    origin: start,
    started: new SessionEvent.SessionStarted({
      session: key,
      at: start,
      botId: key,
      recordingId: null,
      metadata: null
    }),
    ended: new SessionEvent.SessionEnded({ session: key, at: start, reason: "completed" }),
    cursor: 0
  }
}

/** The plan's messages from its cursor up to (not including) `to`, in `out`; the cursor moves on. */
const take = (plan: Plan, to: number, out: Array<SessionEvent.SessionEvent>) => {
  if (plan.cursor === 0 && to > 0) out.push(plan.started)
  for (; plan.cursor < to; plan.cursor++) {
    const line = plan.lines[plan.cursor]!
    out.push(SessionEvent.message(plan.key, copyOf(line.event), plan.origin + line.at * 1000, { raw: line.raw }))
  }
  if (plan.cursor === plan.lines.length) out.push(plan.ended)
}

/** How far a plan has come at wall-clock time `now`, paced. */
const dueAt = (plan: Plan, now: number) => {
  const meetingTime = ((now - plan.origin) / 1000) * speed
  let to = plan.cursor
  while (to < plan.lines.length && plan.lines[to]!.at < meetingTime) to++
  return to
}

// paced: one timer every BENCH_TICK ms pushes what each session's meeting has reached, as a server's socket
// callbacks push frames, so the source itself costs little; `emit` says where each session's events go
// messages sent so far by the paced source, and the CPU over the steady part of a paced run: from a quarter of the
// meeting to nine tenths of it, when every session is set up and none is finishing yet
let sent = 0
const steady = { cpu: 0, messages: 0 }
const sampleSteady = (origin: number) => {
  let start: { readonly cpu: NodeJS.CpuUsage; readonly sent: number } | undefined
  setTimeout(() => (start = { cpu: process.cpuUsage(), sent }), origin - Date.now() + (duration * 250) / speed)
  setTimeout(() => {
    const used = process.cpuUsage(start!.cpu)
    steady.cpu = (used.user + used.system) / 1e6
    steady.messages = sent - start!.sent
  }, origin - Date.now() + (duration * 900) / speed)
}

const paced = (plans: ReadonlyArray<Plan>, emit: (plan: Plan, events: Array<SessionEvent.SessionEvent>) => void) => {
  const live = new Set(plans)
  const timer = setInterval(() => {
    const now = Date.now()
    for (const plan of live) {
      const from = plan.cursor
      const to = dueAt(plan, now)
      if (to === plan.cursor) continue
      const out: Array<SessionEvent.SessionEvent> = []
      take(plan, to, out)
      sent += to - from
      emit(plan, out)
      if (plan.cursor === plan.lines.length) live.delete(plan)
    }
    if (live.size === 0) clearInterval(timer)
  }, tick)
}

const chunks = { count: 0, items: 0 }

/** Every session's events in one Stream, as `EventSource.events` and the server's `events` hand them over. */
const flatSource = (plans: ReadonlyArray<Plan>): Stream.Stream<SessionEvent.SessionEvent> => {
  const counted = Stream.mapChunks((items: Chunk.Chunk<SessionEvent.SessionEvent>) => {
    chunks.count++
    chunks.items += items.length
    return items
  })
  if (speed <= 0) {
    // round robin: a chunk holds the next BENCH_CHUNK messages of every session
    return Stream.repeatEffectChunkOption(Effect.suspend(() => {
      const out: Array<SessionEvent.SessionEvent> = []
      for (const plan of plans) {
        if (plan.cursor < plan.lines.length) take(plan, Math.min(plan.lines.length, plan.cursor + chunk), out)
      }
      return out.length === 0 ? Effect.fail(Option.none()) : Effect.succeed(Chunk.unsafeFromArray(out))
    })).pipe(counted)
  }
  return Stream.asyncPush<SessionEvent.SessionEvent>((emit) =>
    Effect.sync(() => {
      let open = plans.length
      // one chunk per tick for all sessions together
      let batch: Array<SessionEvent.SessionEvent> = []
      let flushing = false
      paced(plans, (plan, events) => {
        for (const event of events) batch.push(event)
        if (plan.cursor === plan.lines.length) open--
        if (flushing) return
        flushing = true
        queueMicrotask(() => {
          flushing = false
          const out = batch
          batch = []
          emit.chunk(Chunk.unsafeFromArray(out))
          if (open === 0) void emit.end()
        })
      })
    }), { bufferSize: "unbounded" }).pipe(counted)
}

/** One Stream per session, as the server's `sessions` hands them over. */
const sessionSources = (plans: ReadonlyArray<Plan>): Stream.Stream<SessionRecorderSession> => {
  if (speed <= 0) {
    return Stream.fromIterable(plans.map((plan) => ({
      key: plan.key,
      events: Stream.repeatEffectChunkOption(Effect.suspend(() => {
        if (plan.cursor === plan.lines.length) return Effect.fail(Option.none())
        const out: Array<SessionEvent.SessionEvent> = []
        take(plan, Math.min(plan.lines.length, plan.cursor + chunk), out)
        return Effect.succeed(Chunk.unsafeFromArray(out))
      }))
    })))
  }
  const emitters = new Map<Plan, (events: Array<SessionEvent.SessionEvent>) => void>()
  let started = false
  const all = plans.map((plan) => ({
    key: plan.key,
    events: Stream.asyncPush<SessionEvent.SessionEvent>((emit) =>
      Effect.sync(() => {
        emitters.set(plan, (events) => {
          emit.chunk(Chunk.unsafeFromArray(events))
          if (plan.cursor === plan.lines.length) void emit.end()
        })
        if (!started && emitters.size === plans.length) {
          started = true
          paced(plans, (p, events) => emitters.get(p)!(events))
        }
      }), { bufferSize: "unbounded" })
  }))
  return Stream.fromIterable(all)
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
  /** Events per chunk of the flat source (0 for one Stream per session). */
  readonly chunk: number
  /** Paced: CPU per message (µs) over the steady part, every session set up and none finishing (0 otherwise). */
  readonly steady: number
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

/** A way of recording: the flat Stream of every session, or one Stream per session. */
type Recorder =
  | {
    readonly _tag: "flat"
    readonly record: (
      events: Stream.Stream<SessionEvent.SessionEvent>,
      options: Current.Options
    ) => Effect.Effect<void, never, FileSystem.FileSystem | Path.Path>
  }
  | {
    readonly _tag: "sessions"
    readonly record: (
      sessions: Stream.Stream<SessionRecorderSession>,
      options: Current.Options
    ) => Effect.Effect<void, never, FileSystem.FileSystem | Path.Path>
  }

type Module = Partial<Pick<typeof Current, "recordAll" | "recordEvents">>

// the flat path when the module has one (and BENCH_MODE is not `sessions`), else one Stream per session
const recorderOf = (module: Module): Recorder =>
  module.recordEvents !== undefined && mode !== "sessions"
    ? { _tag: "flat", record: module.recordEvents }
    : { _tag: "sessions", record: module.recordAll! }

// the input alone, read to its end with nothing recorded: what the source itself costs
const sourceOnly = (recorder: Recorder): Recorder =>
  recorder._tag === "flat"
    ? { _tag: "flat", record: (events) => Stream.runDrain(events) }
    : {
      _tag: "sessions",
      record: (sessions) =>
        sessions.pipe(
          Stream.mapEffect((session) => Stream.runDrain(session.events), { concurrency: "unbounded" }),
          Stream.runDrain
        )
    }

const round = async (recorder: Recorder, recording: boolean): Promise<Measure> => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "callstream-bench-recorder-"))
  const origin = Date.now() + 200
  const plans = Array.from({ length: sessions }, (_, i) => planOf(i, origin))
  chunks.count = chunks.items = 0
  sent = steady.cpu = steady.messages = 0
  if (speed > 0) sampleSteady(origin)
  const options = { ...recorderOptions, directory }
  const profiling = recording && profile !== undefined ? await startProfile() : undefined
  const cpu = process.cpuUsage()
  const start = performance.now()
  await (recorder._tag === "flat"
    ? recorder.record(flatSource(plans), options)
    : recorder.record(sessionSources(plans), options)).pipe(
      Effect.provide(noopDisk ? noopLayer : NodeContext.layer),
      Effect.provide(Logger.minimumLogLevel(LogLevel.Error)),
      Effect.runPromise
    )
  const seconds = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  if (profiling !== undefined) await profiling()
  if (recording && !noopDisk) check(directory)
  fs.rmSync(directory, { recursive: true, force: true })
  return {
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    systemSeconds: used.system / 1e6,
    messages: totalMessages,
    chunk: chunks.count === 0 ? 0 : chunks.items / chunks.count,
    steady: steady.messages === 0 ? 0 : (steady.cpu * 1e6) / steady.messages
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
  const steadily = median(results.map((m) => m.steady))
  console.log(
    `${label} median: ${rate.toFixed(0)} messages/s, ${perMessage.toFixed(1)} µs CPU per message, ` +
      `${(share * 100).toFixed(0)}% of a core` + (steadily > 0 ? `; steady: ${steadily.toFixed(1)} µs per message` : "")
  )
  // paced, what a live meeting costs is the steady figure (set-up and finishing are paid once per meeting)
  return steadily > 0 ? steadily : perMessage
}

const main = async () => {
  const pace = speed > 0 ? `paced at ${speed}x, a tick every ${tick} ms` : `as fast as possible, chunks of ${chunk}`
  console.log(
    `recorder: ${sessions} sessions x ${duration} s of meeting (${totalMessages} messages), ${pace}; ` +
      `${os.cpus().length} cores, Node ${process.version}`
  )
  const mine = recorderOf(Current)
  const contenders: Array<readonly [string, Recorder, boolean]> = [
    [`this (${mine._tag})`, mine, true],
    [`source only (${mine._tag})`, sourceOnly(mine), false]
  ]
  // BENCH_ONLY=1 measures this recorder alone (for a CPU profile)
  if (process.env.BENCH_ONLY === "1") contenders.pop()
  const compare = process.env.BENCH_COMPARE
  if (compare !== undefined) {
    const theirs = recorderOf((await import(path.resolve(compare))) as Module)
    contenders.push([`compared (${theirs._tag})`, theirs, true])
    if (theirs._tag !== mine._tag) contenders.push([`source only (${theirs._tag})`, sourceOnly(theirs), false])
  }
  const results = contenders.map(() => [] as Array<Measure>)
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < contenders.length; c++) {
      // alternate which goes first
      const which = (c + r) % contenders.length
      const [label, recorder, recording] = contenders[which]!
      const m = await round(recorder, recording)
      results[which]!.push(m)
      console.log(
        `round ${r + 1} ${label}: ${(m.messages / m.seconds).toFixed(0)} messages/s, ` +
          `${((m.cpuSeconds * 1e6) / m.messages).toFixed(1)} µs CPU per message ` +
          `(${((m.systemSeconds * 1e6) / m.messages).toFixed(1)} in the kernel), ` +
          `CPU ${((m.cpuSeconds / m.seconds) * 100).toFixed(0)}% of a core over ${m.seconds.toFixed(1)} s` +
          (m.chunk > 0 ? `, ${m.chunk.toFixed(1)} events per chunk` : "") +
          (m.steady > 0 ? `; steady: ${m.steady.toFixed(1)} µs per message` : "")
      )
    }
  }
  const perMessage = contenders.map(([label], i) => report(label, results[i]!))
  const alone = (recording: number, source: number) => perMessage[recording]! - perMessage[source]!
  if (contenders.length > 1) {
    console.log(`recording alone (this minus its source): ${alone(0, 1).toFixed(1)} µs CPU per message`)
  }
  if (contenders.length > 2) {
    const theirs = alone(2, contenders.length > 3 ? 3 : 1)
    console.log(
      `recording alone, compared: ${theirs.toFixed(1)} µs CPU per message; compared / this: ` +
        `${(theirs / alone(0, 1)).toFixed(2)}x (whole process: ${(perMessage[2]! / perMessage[0]!).toFixed(2)}x)`
    )
  }
}

void main()
