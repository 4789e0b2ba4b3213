/**
 * How far `serve` and `worker` let each V8 heap of their process grow past what the last full collection kept alive
 * before the next one: 60%, unless Node was started with a `--heap-growing-percent` of its own (on its command line:
 * Node does not take it from `NODE_OPTIONS`).
 *
 * Without it V8 picks the factor from the heap limit, and under Node's default limit on a machine with memory to
 * spare that is up to 4x. A burst the recorder has not caught up with (a thousand meetings joining within seconds)
 * leaves the main thread holding events for a few seconds; they outlive two young collections, move to the old
 * generation and die there, and the old generation then grows to 4x what the last full collection found before the
 * next one runs. Measured at 1,000 recorded meetings: the main thread's old generation at 131-262 MB 40 s in, where
 * 33-45 MB of it was alive, and the process's RSS 623-769 MB; with 60%, 59-75 MB and 562-568 MB, at the same CPU.
 * The recorder threads' own limit (`--recorder-heap-mb`) already kept their factor near 1.6. A `worker` records on
 * its main thread, under Node's default limit: scaled out at 250 bots (two receivers, one worker), the worker's old
 * generation took 207-225 MB at 40 s and its RSS 363-377 MB; with 60%, 99-100 MB and 233-255 MB, for 4-11 points
 * more CPU across the deployment (more full collections).
 *
 * The flag is V8's, set from `node:v8` once the process runs: V8 reads it at every full collection. Node warns that
 * flags set after start may do nothing; this one is read where it is used, which is why it is the one set here.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as v8 from "node:v8"

/** @internal */
export const PERCENT = 60

const FLAG = "--heap-growing-percent"

/** Sets the growth of every heap of the process to {@link PERCENT}, unless Node was given its own. @internal */
export const limit: Effect.Effect<void> = Effect.sync(() => {
  if (process.execArgv.some((arg) => arg.startsWith(FLAG) || arg.startsWith("--heap_growing_percent"))) return
  v8.setFlagsFromString(`${FLAG}=${PERCENT}`)
})
