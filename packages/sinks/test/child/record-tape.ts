// Run as a child process by Kill.test.ts: records a tape in real time (sped up) until it is killed.
// Arguments: <tape> <out dir> <speed> <patch interval ms> <flush interval ms>
import { EventSource } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as SessionRecorder from "../../src/SessionRecorder.js"

const [tape, out, speed, patch, flush] = process.argv.slice(2)

SessionRecorder.run({ directory: out!, patchInterval: Number(patch), flushInterval: Number(flush) }).pipe(
  Effect.provide(EventSource.fromTape(tape!, { speed: Number(speed) })),
  Effect.provide(NodeContext.layer),
  Effect.runPromise
)
