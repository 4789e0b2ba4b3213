// Run as a child process by Restart.test.ts: records a tape as a live server's session would arrive (sped up), a
// meeting that has not ended, until it is killed.
// Arguments: <tape> <out dir> <speed> <checkpoint interval ms>
import { EventSource, EventStream } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as SessionRecorder from "../../src/SessionRecorder.js"

const [tape, out, speed, checkpoint] = process.argv.slice(2)

const live = EventSource.tapeEvents(tape!, { speed: Number(speed) }).pipe(
  Stream.orDie,
  Stream.filter((item) => item._tag !== "SessionEnded"),
  Stream.concat(Stream.never)
)

SessionRecorder.recordAll(live.pipe(EventStream.sessions()), {
  directory: out!,
  checkpointInterval: Number(checkpoint)
}).pipe(
  Effect.provide(NodeContext.layer),
  Effect.runPromise
)
