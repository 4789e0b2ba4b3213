/**
 * `callstream demo`: the whole product in one command, with nothing but the install. It generates a 30 s sample
 * meeting (three participants speaking tones, transcripts, chat, webcam frames), serves it to itself through the
 * real server with the Recall simulator (ten times faster than real time, with one dropped connection to show how
 * a gap is handled), records it, and prints what was recorded and where.
 *
 * @since 0.1.0
 */
import { SampleMeeting, type SessionEvent } from "@callstream/core"
import { RecallSimulator } from "@callstream/server"
import { SessionRecorder } from "@callstream/sinks"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Inspect from "./Inspect.js"
import { serveAndRecord } from "./internal/recording.js"
import * as ServeSettings from "./ServeSettings.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface DemoOptions {
  /** Where to record; default a new temporary folder. */
  readonly out?: string | undefined
  /** How much faster than real time to replay. Default 10. */
  readonly speed?: number | undefined
}

/**
 * What the demo recorded.
 *
 * @since 0.1.0
 * @category models
 */
export interface DemoResult {
  readonly out: string
  readonly summaries: ReadonlyArray<Inspect.Summary>
  readonly replay: RecallSimulator.Result
  readonly gaps: ReadonlyArray<SessionEvent.Gap>
}

const fileList = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const lines: Array<string> = []
    const walk = (rel: string): Effect.Effect<void, unknown> =>
      Effect.gen(function*() {
        const entries = (yield* fs.readDirectory(path.join(dir, rel))).sort()
        const pngs = entries.filter((e) => e.endsWith(".png"))
        if (pngs.length > 0) lines.push(`  ${rel}/  ${pngs.length} PNG frames`)
        for (const entry of entries) {
          if (entry.endsWith(".png")) continue
          const child = rel === "" ? entry : `${rel}/${entry}`
          const info = yield* fs.stat(path.join(dir, child))
          if (info.type === "Directory") yield* walk(child)
          else lines.push(`  ${child}  ${(Number(info.size) / 1024).toFixed(1)} KiB`)
        }
      })
    yield* walk("")
    return lines.join("\n")
  })

/**
 * Runs the demo and returns what it recorded (the command prints it).
 *
 * @since 0.1.0
 * @category running
 */
export const record = (options: DemoOptions = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const out = options.out ?? (yield* fs.makeTempDirectory({ prefix: "callstream-demo-" }))
    yield* fs.makeDirectory(out, { recursive: true })
    const speed = options.speed ?? 10
    const meeting = SampleMeeting.generate(SampleMeeting.FIXTURE)
    const token = ServeSettings.generateToken()

    const gaps: Array<SessionEvent.Gap> = []
    const { server, stop } = yield* serveAndRecord(
      { host: "127.0.0.1", port: 0, tokens: [token], shutdownTimeout: Duration.seconds(2) },
      // a 30 s meeting: recorded in this thread
      (events) => SessionRecorder.recordEvents(events, { directory: out }),
      (items) =>
        Effect.sync(() => {
          for (const item of items) if (item._tag === "Gap") gaps.push(item)
        })
    )

    // Recall retries every 3 s: at 10x that is 300 ms of wall time, the same 3 s of meeting time lost.
    const replay = yield* RecallSimulator.replay(meeting.entries, {
      url: `${server.address.url}?token=${encodeURIComponent(Redacted.value(token))}`,
      speed,
      separateConnections: true,
      drops: [{ atTime: 14 }],
      retrySpacing: Duration.millis(3000 / speed)
    }).pipe(Effect.onError(() => stop))

    yield* stop
    const summaries = yield* Inspect.folder(out)
    return { out, summaries, replay, gaps } satisfies DemoResult
  })

/**
 * The command's handler.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (options: DemoOptions) =>
  Effect.gen(function*() {
    yield* Console.log(
      "callstream demo: a generated 30 s meeting (3 participants, transcripts, chat, webcam frames) is replayed\n" +
        "into a real callstream server at 10x speed, with one dropped connection, and recorded.\n"
    )
    // the server's connection log would bury the summary: the demo shows warnings only
    const result = yield* record(options).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))
    yield* Console.log(
      `replay: ${result.replay.sent} messages sent over ${result.replay.connections} connections, ` +
        `${result.replay.lost} lost while disconnected\n` +
        result.gaps.map((g) => `gap: no connection from ${g.from.toFixed(2)} s to ${g.to.toFixed(2)} s of meeting time`)
          .join("\n") +
        "\n"
    )
    yield* Console.log(Inspect.render(result.summaries))
    for (const summary of result.summaries) {
      const path = yield* Path.Path
      const dir = path.join(result.out, SessionRecorder.folderName(summary.session))
      yield* Console.log(`files in ${dir}:\n${yield* fileList(dir)}\n`)
    }
    yield* Console.log(`Open the WAVs in any audio editor: they line up on meeting time, with silence for the gap.`)
    yield* Console.log(`Output folder: ${result.out}`)
  })
