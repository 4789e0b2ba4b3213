import type { SessionEvent } from "@callstream/core"
import { RecallServer } from "@callstream/server"
import { SessionRecorder } from "@callstream/sinks"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as RecorderThread from "./recorderThread.js"
import * as SyncFiles from "./syncFiles.js"

/**
 * A running server whose sessions are being recorded.
 *
 * @internal
 */
export interface Recording {
  readonly server: RecallServer.RecallServer["Type"]
  /** Shuts the server down gracefully, then waits until every session's files are finished. */
  readonly stop: Effect.Effect<void>
  /** Fails if the events stop being recorded or published while the server runs (never succeeds). */
  readonly broken: Effect.Effect<never, RecorderThread.RecorderThreadError>
}

/**
 * Starts a server and records every session with `record`, which reads the server's flat `events` with one consumer
 * (`serve`: on a recorder thread, see `RecorderThread`; the demo: `SessionRecorder.recordEvents` in this thread).
 * `observe` sees every event on its way to the recorder, a chunk at a time (one call per chunk, not an Effect per
 * event). The server lives until `stop`, not in the caller's scope: the order of shutdown matters (server first,
 * then the recorder drains).
 *
 * @internal
 */
export const serveAndRecord = <R>(
  options: RecallServer.Options,
  record: (
    events: Stream.Stream<SessionEvent.SessionEvent>
  ) => Effect.Effect<void, RecorderThread.RecorderThreadError, R>,
  observe: (items: Chunk.Chunk<SessionEvent.SessionEvent>) => Effect.Effect<void>
): Effect.Effect<Recording, RecallServer.RecallServerError, R> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const server = yield* RecallServer.make(options).pipe(
      Scope.extend(scope),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
    const recording = yield* record(
      server.events.pipe(Stream.mapChunksEffect((items) => Effect.as(observe(items), items)))
    ).pipe(Effect.forkDaemon)
    return {
      server,
      // a failure of the recorder thread is `broken`'s to report
      stop: Effect.zipRight(Scope.close(scope, Exit.void), Effect.ignore(Fiber.join(recording))),
      broken: Effect.zipRight(Fiber.join(recording), Effect.never)
    }
  })

/**
 * Records every session of `events` on this thread (`serve --recorder-threads 0`), with the recorder thread's
 * synchronous file calls (`SyncFiles`).
 *
 * Why a server would: one JavaScript thread instead of two holds one V8 heap instead of two and passes no event from
 * thread to thread (no structured clone, no second decode). Measured at 1,000 recorded meetings on two cores in three
 * alternating rounds (BENCHMARKS.md, "Recording on the main thread"): RSS median 382-394 MB against 473-575 MB, CPU
 * 87-101% of a core against 100-113%, with Node started with `--max-semi-space-size=32` (without it, 115-122%: the
 * recorder's allocations need the young generation a recorder thread gets from its resource limits). What it costs:
 * the main thread was 81-94% busy, so it has no room for a slower hour or a burst (in one, a tenth of 1,000 bots
 * timed out opening their connection, where a recorder thread took them all), ping p99 was 39-59 ms against 32-44 ms,
 * and a write that blocks (a slow disk) holds every socket up with it, where a recorder thread only falls behind.
 * The file calls are synchronous for the reason the recorder thread's are: with Node's asynchronous ones the same
 * load saturated the thread (130% of a core, RSS 461 MB, ping p99 134 ms).
 *
 * @internal
 */
export const recordOnMainThread = (
  events: Stream.Stream<SessionEvent.SessionEvent>,
  directory: string
): Effect.Effect<void, never, FileSystem.FileSystem | Path.Path> =>
  SessionRecorder.recordEvents(events, { directory }).pipe(Effect.provide(SyncFiles.layer))
