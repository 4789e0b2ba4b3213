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

/**
 * A running server whose sessions are being recorded.
 *
 * @internal
 */
export interface Recording {
  readonly server: RecallServer.RecallServer["Type"]
  /** Shuts the server down gracefully, then waits until every session's files are finished. */
  readonly stop: Effect.Effect<void>
}

/**
 * Starts a server and records every session into `directory`, reading the server's flat `events` with one consumer
 * (see `SessionRecorder.recordEvents`). `observe` sees every event on its way to the recorder, a chunk at a time
 * (one call per chunk, not an Effect per event). The server lives until `stop`, not in the caller's scope: the order
 * of shutdown matters (server first, then the recorder drains).
 *
 * @internal
 */
export const serveAndRecord = (
  options: RecallServer.Options,
  directory: string,
  observe: (items: Chunk.Chunk<SessionEvent.SessionEvent>) => Effect.Effect<void>
): Effect.Effect<Recording, RecallServer.RecallServerError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const server = yield* RecallServer.make(options).pipe(
      Scope.extend(scope),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
    const recorder = yield* SessionRecorder.recordEvents(
      server.events.pipe(Stream.mapChunksEffect((items) => Effect.as(observe(items), items))),
      { directory }
    ).pipe(Effect.forkDaemon)
    return { server, stop: Effect.zipRight(Scope.close(scope, Exit.void), Fiber.join(recorder)) }
  })
