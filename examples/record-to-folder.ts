/**
 * Record every meeting to a folder: the server plus the session recorder, the few-line core of `callstream serve`.
 * Each meeting gets `<folder>/<session-key>/` with the tape of raw messages (`events.jsonl`), the transcript (JSON,
 * text, SRT, WebVTT), participants with talk time, chat, `session.json`, WAV audio and webcam PNG frames.
 *
 *   CALLSTREAM_TOKEN=s3cret npx tsx examples/record-to-folder.ts [folder]
 *
 * The folder defaults to `./recordings`. Give Recall the printed URL with `?token=s3cret` appended; for a local
 * experiment without a token set CALLSTREAM_ALLOW_UNAUTHENTICATED=true instead. Other settings: CALLSTREAM_HOST,
 * CALLSTREAM_PORT (0 for any free port), CALLSTREAM_PATH, CALLSTREAM_SESSION_TIMEOUT (seconds a meeting waits for
 * its bot to reconnect before its files are finished). Ctrl-C stops the server and finishes every file.
 */
import { EventSource } from "@callstream/core"
import { RecallServer } from "@callstream/server"
import { SessionRecorder } from "@callstream/sinks"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Deferred, Effect } from "effect"

const directory = process.argv[2] ?? "recordings"

const program = Effect.gen(function*() {
  // Shutdown order matters: the server must stop first (that ends every session), then the recorder finishes each
  // session's files. Finalizers run in reverse order, so the wait for the recorder is registered first.
  const recorded = yield* Deferred.make<void>()
  yield* Effect.addFinalizer(() => Deferred.await(recorded))
  const server = yield* RecallServer.make(yield* RecallServer.config)
  yield* Console.log(`record-to-folder: listening on ${server.address.url}, recording into ${directory}`)
  yield* SessionRecorder.run({ directory }).pipe(
    Effect.provideService(EventSource.EventSource, EventSource.make(server.events)),
    Effect.ensuring(Deferred.complete(recorded, Effect.void)),
    Effect.forkDaemon
  )
  return yield* Effect.never
})

program.pipe(
  Effect.scoped,
  Effect.catchTag("RecallServerError", (error) =>
    Console.error(
      `record-to-folder: ${error.message}\n` +
        "Set CALLSTREAM_TOKEN=<a secret>, or CALLSTREAM_ALLOW_UNAUTHENTICATED=true for a local experiment."
    ).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain
)
