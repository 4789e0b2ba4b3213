import type { SessionEvent } from "@callstream/core"
import { RecallServer } from "@callstream/server"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as RecorderThread from "./recorderThread.js"

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
