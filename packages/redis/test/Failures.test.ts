import { type SessionEvent, SessionKey } from "@callstream/core"
import * as EventLog from "@callstream/redis/EventLog"
import * as Publisher from "@callstream/redis/Publisher"
import * as RedisEventLog from "@callstream/redis/RedisEventLog"
import * as RedisMetrics from "@callstream/redis/RedisMetrics"
import * as WorkerSource from "@callstream/redis/WorkerSource"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { consume, eventually, Store } from "./consumer.js"
import { audio, closed, describe as show, ended, opened, started, words } from "./events.js"
import { serverForFile } from "./redisForFile.js"
import { freePort, redisAvailable, RedisServer, Relay } from "./redisServer.js"

const withRedis = redisAvailable()

const logs: Array<string> = []
const captured = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ message }) => {
    logs.push(Array.isArray(message) ? message.join(" ") : String(message))
  })
)

describe.skipIf(!withRedis)("Redis failures", () => {
  const redis = serverForFile()

  it.live("a Redis that cannot be reached at start is a clear error that never shows the credentials", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const exit = yield* Effect.exit(Effect.scoped(
        Layer.build(RedisEventLog.layer({
          url: Redacted.make(`redis://:hunter2@127.0.0.1:${port}`),
          connectTimeout: 2000
        }))
      ))
      assert.isTrue(Exit.isFailure(exit))
      const error = Option.getOrThrow(
        Cause.failureOption((exit as Exit.Failure<unknown, EventLog.EventLogError>).cause)
      )
      assert.strictEqual(error._tag, "EventLogError")
      assert.strictEqual(error.reason, "Unavailable")
      assert.strictEqual(error.operation, "connect")
      assert.include(error.message, `127.0.0.1:${port}`)
      assert.notInclude(error.message, "hunter2")
    }))

  it.live("a Redis that stops answering: operations fail after the command timeout instead of hanging, then recover", () =>
    Effect.gen(function*() {
      const hung = yield* Effect.acquireRelease(
        Effect.promise(() => RedisServer.start()),
        (server) => Effect.promise(() => server.stop())
      )
      const options = { url: Redacted.make(hung.url), prefix: "hung:", commandTimeout: 300 }
      const log = yield* RedisEventLog.make(options)
      yield* log.append([{ partition: 0, payload: "before" }])
      yield* log.claim({ partition: 0, group: "g", consumer: "w" })

      hung.freeze()
      const started = Date.now()
      const size = yield* Effect.flip(log.size(0))
      const read = yield* Effect.flip(log.read({ partitions: [0], group: "g", consumer: "w", count: 10, block: 200 }))
      const waited = Date.now() - started
      for (const error of [size, read]) {
        assert.strictEqual(error.reason, "Unavailable")
        assert.include(error.message, "no reply within")
      }
      // 300 ms, then 200 + 300 ms: wide bounds for a busy machine, far below a hang
      assert.isAtLeast(waited, 800)
      assert.isBelow(waited, 20_000)
      // a Layer built while it hangs is a startup error, not a wait without end
      const exit = yield* Effect.exit(Effect.scoped(RedisEventLog.make(options)))
      assert.isTrue(Exit.isFailure(exit))

      hung.thaw()
      // the next operations connect again
      yield* eventually(Effect.map(Effect.either(log.size(0)), (n) => n._tag === "Right" && n.right === 1), "back")
      yield* log.append([{ partition: 0, payload: "after" }])
      // (the read sent while it hung may have been served once it went on: "before" is then pending, not new)
      const reads = yield* log.read({ partitions: [0], group: "g", consumer: "w", count: 10, block: 100 })
      assert.include(reads.flatMap((r) => r.entries.map((e) => e.payload)), "after")
    }).pipe(Effect.scoped))

  it.live("Redis lost while running: the publisher holds events and pushes back, both sides reconnect, nothing is lost", () =>
    Effect.gen(function*() {
      const relay = yield* Effect.promise(() => Relay.start(redis().port))
      const log = RedisEventLog.layer({ url: Redacted.make(relay.url), prefix: "outage:" })
      const retry = Schedule.spaced(100)
      const session = SessionKey.make("bot-outage")
      const input = yield* Queue.bounded<SessionEvent.SessionEvent>(4)
      const failures = Metric.tagged(RedisMetrics.failures, "operation", "append")
      const failuresBefore = (yield* Metric.value(failures)).count

      const publishing = yield* Publisher.run(Stream.fromQueue(input), {
        partitions: 2,
        coalesce: 0,
        bufferBytes: 30_000,
        retry
      }).pipe(Effect.provide(log), Effect.fork)

      const store = new Store()
      const consuming = yield* consume(store, () => store.ended === 1).pipe(
        Effect.provide(WorkerSource.layer({
          partitions: 2,
          leaseTtl: 1000,
          tick: 100,
          block: 100,
          retry,
          sessionTimeout: 1000
        })),
        Effect.provide(log),
        Effect.fork
      )

      const sent: Array<SessionEvent.SessionEvent> = [
        started(0, session),
        opened("c", 0, session),
        audio(0, 0, "c", session),
        words("before", 0, 10, "c", session)
      ]
      yield* Queue.offerAll(input, sent)
      yield* eventually(Effect.sync(() => store.applied("bot-outage").length === 4), "the first events arrive")

      yield* Effect.promise(() => relay.cut())
      // audio of about 4.5 KB a message: the 30 KB buffer fills, then the input queue, then offers wait
      let accepted = 0
      let held: SessionEvent.SessionEvent | undefined
      for (let i = 1; i <= 40; i++) {
        const event = audio(i / 10, i * 100, "c", session)
        const offered = yield* Queue.offer(input, event).pipe(Effect.timeout("1 second"), Effect.option)
        if (Option.isNone(offered)) {
          held = event // an offer that timed out did not happen: offered again once the log is back
          break
        }
        sent.push(event)
        accepted++
      }
      assert.isAbove(accepted, 3, "events were accepted into the buffer while Redis was gone")
      assert.isBelow(accepted, 40, "then the input was held back")
      assert.strictEqual((yield* Metric.value(RedisMetrics.available)).value, 0)
      assert.isAbove((yield* Metric.value(failures)).count, failuresBefore)

      yield* Effect.promise(() => relay.restore())
      const rest = [
        ...(held === undefined ? [] : [held]),
        words("after", 5, 5000, "c", session),
        closed("c", 6000, session),
        ended("timeout", 7000, session)
      ]
      sent.push(...rest)
      yield* Queue.offerAll(input, rest)
      yield* Fiber.join(consuming).pipe(Effect.timeout("30 seconds"))
      yield* Queue.shutdown(input)
      yield* Fiber.interrupt(publishing)

      assert.deepStrictEqual(store.applied("bot-outage"), sent.map(show), "every event once, in order")
      assert.strictEqual((yield* Metric.value(RedisMetrics.available)).value, 1)
      assert.isTrue(logs.some((line) => line.includes("the log is unavailable")), "the outage is logged")
      assert.isTrue(logs.some((line) => line.includes("the log is available again")), "the recovery is logged")
      yield* Effect.promise(() => relay.cut())
    }).pipe(Effect.provide(captured)))

  it.live("Redis restarted empty: a running worker joins its partitions again and reads what comes next", () =>
    Effect.gen(function*() {
      const log = RedisEventLog.layer({ url: Redacted.make(redis().url), prefix: "restart:" })
      const options = { partitions: 2, leaseTtl: 1000, tick: 100, block: 100, retry: Schedule.spaced(100) }
      const store = new Store()
      const consuming = yield* consume(store, () => store.ended === 2).pipe(
        Effect.provide(WorkerSource.layer({ ...options, sessionTimeout: 1000 })),
        Effect.provide(log),
        Effect.fork
      )
      const meeting = (key: string) => {
        const session = SessionKey.make(key)
        return [
          started(0, session),
          opened(`${key}-c`, 0, session),
          words("hello", 0, 10, `${key}-c`, session),
          closed(`${key}-c`, 100, session),
          ended("timeout", 1100, session)
        ]
      }
      yield* Publisher.run(Stream.fromIterable(meeting("bot-before")), { partitions: 2 }).pipe(Effect.provide(log))
      yield* eventually(Effect.sync(() => store.ended === 1), "the first meeting arrives")
      yield* Effect.promise(() => redis().kill())
      yield* Effect.promise(() => redis().resume())
      yield* Publisher.run(Stream.fromIterable(meeting("bot-after")), { partitions: 2, retry: Schedule.spaced(100) })
        .pipe(
          Effect.provide(log)
        )
      yield* Fiber.join(consuming).pipe(Effect.timeout("30 seconds"))
      assert.deepStrictEqual(store.applied("bot-after"), meeting("bot-after").map(show))
    }).pipe(Effect.provide(captured)))

  it.live("the safety cap bites when no worker reads: what it trimmed comes out as Dropped records and a metric", () =>
    Effect.gen(function*() {
      const log = RedisEventLog.layer({ url: Redacted.make(redis().url), prefix: "cap:", maxLength: 10 })
      const session = SessionKey.make("bot-capped")
      const lost = Metric.tagged(RedisMetrics.lostEvents, "kind", "audio")
      const lostBefore = (yield* Metric.value(lost)).count
      const events: Array<SessionEvent.SessionEvent> = [started(0, session), opened("c", 0, session)]
      for (let i = 0; i < 1000; i++) events.push(audio(i / 10, i * 100, "c", session))
      events.push(closed("c", 100_000, session), ended("timeout", 101_000, session))
      // one entry per event, far more than the cap keeps (approximately: Redis trims whole nodes of 100 entries)
      yield* Publisher.run(Stream.fromIterable(events).pipe(Stream.rechunk(1)), { partitions: 2, coalesce: 0 }).pipe(
        Effect.provide(log)
      )
      const store = new Store()
      yield* consume(store, () => store.ended === 1).pipe(
        Effect.provide(WorkerSource.layer({ partitions: 2, tick: 100, block: 100, sessionTimeout: 1000 })),
        Effect.provide(log)
      )
      const got = store.sessions.get("bot-capped")!.applied
      const dropped = got.filter((e): e is SessionEvent.Dropped => e._tag === "Dropped")
      const received = got.filter((e) => e._tag === "Message").length
      assert.isBelow(received, 500, "most were trimmed")
      assert.strictEqual(dropped.length, 1)
      assert.strictEqual(dropped[0]!.kind, "audio")
      assert.strictEqual(dropped[0]!.count + received, 1000, "every audio message is either received or counted")
      assert.strictEqual((yield* Metric.value(lost)).count - lostBefore, dropped[0]!.count)
      assert.strictEqual(got[0]!._tag, "SessionStarted", "the session starts from its first message left")
    }).pipe(Effect.provide(captured)))
})
