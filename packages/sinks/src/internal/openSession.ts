import { Printable, type SessionKey } from "@callstream/core"
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type * as AudioTimeline from "../AudioTimeline.js"
import * as RecorderMetrics from "../RecorderMetrics.js"
import * as SessionFolder from "../SessionFolder.js"
import * as SessionSummary from "../SessionSummary.js"
import { replaceFile } from "./files.js"
import type * as FlushScheduler from "./flushScheduler.js"
import * as Layout from "./layout.js"
import * as Restore from "./restore.js"
import * as SessionWriter from "./sessionWriter.js"

/**
 * Setting a session's folder up for recording, and what happens when that fails. Opening makes the folder,
 * restores what an earlier run left in it (see `restore`) and makes the session's writer, whose files and flushes
 * live in the scope; closing the scope finishes every file. A session that cannot be set up is logged, and its
 * `session.json` says so when the folder can take it.
 *
 * @internal
 */

/** @internal */
export const open = (
  key: SessionKey.SessionKey,
  directory: string,
  audio: AudioTimeline.Options | undefined,
  settings: (folder: string) => SessionWriter.Settings,
  scheduler: FlushScheduler.FlushScheduler
): Effect.Effect<
  SessionWriter.SessionWriter,
  PlatformError.PlatformError,
  FileSystem.FileSystem | Path.Path | Scope.Scope
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const folder = path.join(directory, SessionFolder.nameOf(key))
    // a folder made here is new (the usual case: a meeting's first run), one that is there already may hold an
    // earlier run to continue
    const made = yield* fs.makeDirectory(folder).pipe(
      Effect.as(true),
      Effect.catchIf(
        (error) => error._tag === "SystemError" && error.reason === "AlreadyExists",
        () => Effect.succeed(false)
      ),
      // the recorder's own folder is gone (removed while it runs): made again with the session's
      Effect.catchIf(
        (error) => error._tag === "SystemError" && error.reason === "NotFound",
        () => Effect.as(fs.makeDirectory(folder, { recursive: true }), true)
      )
    )
    yield* fs.makeDirectory(path.join(folder, Layout.AUDIO), { recursive: !made })
    const restored = made ? Restore.fresh(key) : yield* Restore.restore(folder, key, audio)
    if (restored.from !== "new folder") {
      yield* Metric.incrementBy(RecorderMetrics.replayedLines, restored.replayedLines)
      yield* Effect.logInfo(
        `session ${Printable.text(key)}: continuing its folder from ${restored.from}, ` +
          `${restored.replayedLines} tape lines replayed` +
          (restored.cutStreamBytes === 0
            ? ""
            : `, ${restored.cutStreamBytes} bytes of H.264 cut from its streams' ends (frames the tape does not hold)`)
      )
    }
    const writer = yield* SessionWriter.make(settings(folder), restored, scheduler)
    yield* Effect.acquireRelease(
      Metric.increment(RecorderMetrics.sessions),
      () => Metric.incrementBy(RecorderMetrics.sessions, -1)
    )
    return writer
  })

/** Logs that a session could not be recorded, and says so in its `session.json` when the folder can take it. */
export const failed = (
  key: SessionKey.SessionKey,
  directory: string,
  cause: Cause.Cause<unknown>
): Effect.Effect<SessionSummary.SessionSummary, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    yield* Effect.logError(`session ${Printable.text(key)} could not be recorded`, cause)
    const now = yield* Clock.currentTimeMillis
    const summary = SessionSummary.addError(SessionSummary.empty(key), now, "recorder", Cause.pretty(cause))
    const path = yield* Path.Path
    yield* replaceFile(
      path.join(directory, SessionFolder.nameOf(key), "session.json"),
      JSON.stringify(summary, null, 2) + "\n"
    ).pipe(Effect.ignore)
    return summary
  })
