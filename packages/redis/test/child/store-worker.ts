// Run as a child process by Kill.test.ts: a worker whose consumer stores each event it applies, with its position,
// in a file (one JSON line each, written before the event is committed), and skips what the file already holds.
// Arguments: <redis url> <key prefix> <store file> <commit every n events>
import * as RedisEventLog from "@callstream/redis/RedisEventLog"
import * as WorkerSource from "@callstream/redis/WorkerSource"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import { describe } from "../events.js"

const [url, prefix, file, every] = process.argv.slice(2)

const last = new Map<string, string>()
if (Fs.existsSync(file!)) {
  // a line the previous worker was killed in the middle of is cut: its event was not committed, so comes again
  const text = Fs.readFileSync(file!, "utf8")
  const whole = text.slice(0, text.lastIndexOf("\n") + 1)
  if (whole.length < text.length) Fs.truncateSync(file!, Buffer.byteLength(whole))
  for (const line of whole.split("\n")) {
    if (line === "") continue
    const { position, session } = JSON.parse(line) as { session: string; position: string }
    last.set(session, position)
  }
}

let n = 0
Effect.gen(function*() {
  const worker = yield* WorkerSource.WorkerSource
  process.stdout.write("ready\n")
  yield* worker.events.pipe(
    Stream.runForEach((event) => {
      const position = event.position!
      if (position <= (last.get(event.session) ?? "")) return Effect.void
      Fs.appendFileSync(file!, JSON.stringify({ session: event.session, position, event: describe(event) }) + "\n")
      last.set(event.session, position)
      return ++n % Number(every) === 0 ? worker.commit(event.session, position) : Effect.void
    })
  )
}).pipe(
  Effect.provide(
    WorkerSource.layer({ partitions: 4, leaseTtl: 1000, tick: 100, block: 100, retry: Schedule.spaced(50) })
  ),
  Effect.provide(RedisEventLog.layer({ url: Redacted.make(url!), prefix: prefix! })),
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.none)),
  Effect.runPromise
)
