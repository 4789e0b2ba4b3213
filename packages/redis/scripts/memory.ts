/**
 * Measures the Redis memory an active bot costs: BOTS simulated meetings (mixed audio in 100 ms chunks, an
 * utterance a second) are published in real time through the Publisher to a redis-server of the script's own, a
 * WorkerSource consumes them and commits once a second (as a recorder that flushes every second would), and
 * `INFO memory` is sampled. Then the worker stops and the growth of the backlog is measured too.
 *
 *   npx tsx packages/redis/scripts/memory.ts [BOTS=100] [SECONDS=20]
 */
import { Fixtures, SessionEvent, SessionKey } from "@callstream/core"
import { Publisher, RedisEventLog, WorkerSource } from "@callstream/redis"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { Redis } from "ioredis"
import { RedisServer } from "../test/redisServer.js"

const BOTS = Number(process.argv[2] ?? 100)
const SECONDS = Number(process.argv[3] ?? 20)

const usedMemory = async (redis: Redis): Promise<number> => {
  const info = await redis.info("memory")
  return Number(/used_memory:(\d+)/.exec(info)![1])
}

const main = Effect.gen(function*() {
  const server = yield* Effect.acquireRelease(
    Effect.promise(() => RedisServer.start()),
    (s) => Effect.promise(() => s.stop())
  )
  const probe = new Redis(server.url)
  const baseline = yield* Effect.promise(() => usedMemory(probe))
  const log = RedisEventLog.layer({ url: Redacted.make(server.url) })
  const input = yield* Queue.bounded<SessionEvent.SessionEvent>(100_000)
  yield* Publisher.run(Stream.fromQueue(input), { coalesce: 500 }).pipe(Effect.provide(log), Effect.forkScoped)

  const committed = new Map<SessionKey.SessionKey, string>()
  let consumed = 0
  const worker = yield* Effect.gen(function*() {
    const source = yield* WorkerSource.WorkerSource
    yield* Effect.sync(() => committed).pipe(
      Effect.flatMap((last) =>
        Effect.forEach(Array.from(last), ([session, position]) => source.commit(session, position))
      ),
      Effect.delay("1 second"),
      Effect.forever,
      Effect.forkScoped
    )
    yield* source.events.pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          consumed++
          committed.set(event.session, event.position!)
        })
      )
    )
  }).pipe(Effect.scoped, Effect.provide(WorkerSource.layer()), Effect.provide(log), Effect.forkScoped)

  const bots = Array.from({ length: BOTS }, (_, i) => SessionKey.make(`bot-${i}`))
  const message = (session: SessionKey.SessionKey, json: unknown, at: number) => {
    const raw = JSON.stringify(json)
    return SessionEvent.message(session, JSON.parse(raw), at, { connectionId: `${session}-c`, raw })
  }
  for (const session of bots) {
    yield* Queue.offerAll(input, [
      new SessionEvent.SessionStarted({ session, at: Date.now(), botId: session, recordingId: null, metadata: null }),
      new SessionEvent.ConnectionOpened({ session, at: Date.now(), connectionId: `${session}-c` })
    ])
  }
  const samples: Array<number> = []
  for (let tick = 0; tick < SECONDS * 10; tick++) {
    const now = Date.now()
    const t = tick / 10
    for (const session of bots) {
      yield* Queue.offer(input, message(session, Fixtures.audio({ at: t, botId: session }), now))
      if (tick % 10 === 9) {
        yield* Queue.offer(
          input,
          message(session, Fixtures.transcript("a sentence of eight words said in it", { at: t, botId: session }), now)
        )
      }
    }
    if (tick >= 50 && tick % 10 === 0) samples.push(yield* Effect.promise(() => usedMemory(probe)))
    yield* Effect.sleep(100)
  }
  samples.sort((a, b) => a - b)
  const median = samples[Math.floor(samples.length / 2)]!
  const max = samples[samples.length - 1]!
  console.log(`${BOTS} bots, ${SECONDS} s, ${consumed} events consumed`)
  console.log(
    `with a worker committing every second: median ${((median - baseline) / BOTS / 1024).toFixed(1)} KiB per bot, max ${
      ((max - baseline) / BOTS / 1024).toFixed(1)
    } KiB per bot (baseline ${(baseline / 1024 / 1024).toFixed(2)} MiB)`
  )

  // the worker stops: the backlog grows
  yield* Fiber.interrupt(worker)
  const before = yield* Effect.promise(() => usedMemory(probe))
  for (let tick = 0; tick < 100; tick++) {
    const now = Date.now()
    for (const session of bots) {
      yield* Queue.offer(input, message(session, Fixtures.audio({ at: 100 + tick / 10, botId: session }), now))
    }
    yield* Effect.sleep(100)
  }
  yield* Effect.sleep(1000)
  const after = yield* Effect.promise(() => usedMemory(probe))
  console.log(`with no worker: ${((after - before) / BOTS / 10 / 1024).toFixed(1)} KiB per bot per second of backlog`)
  probe.disconnect()
})

Effect.runPromise(main.pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning)))
