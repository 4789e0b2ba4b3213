import type { SessionEvent } from "@callstream/core"
import type { RecallServer } from "@callstream/server"
import { SessionRecorder } from "@callstream/sinks"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/**
 * Records every session of a running server into `directory`, in a fiber of its own (it ends once the server has
 * shut down and every session's files are finished). `observe` sees each event on its way to the recorder.
 *
 * @internal
 */
export const startRecording = (
  server: RecallServer.RecallServer["Type"],
  directory: string,
  observe: (item: SessionEvent.SessionEvent) => Effect.Effect<void>
) =>
  SessionRecorder.recordAll(
    server.sessions.pipe(Stream.map((session) => ({ ...session, events: session.events.pipe(Stream.tap(observe)) }))),
    { directory }
  ).pipe(Effect.forkDaemon)
