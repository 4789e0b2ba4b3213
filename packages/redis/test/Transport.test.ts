import { type SessionEvent, SessionKey } from "@callstream/core"
import * as EventLog from "@callstream/redis/EventLog"
import * as LogEntry from "@callstream/redis/LogEntry"
import * as Publisher from "@callstream/redis/Publisher"
import * as WorkerSource from "@callstream/redis/WorkerSource"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { backends } from "./backends.js"
import { consume, eventually, Store } from "./consumer.js"
import { audio, closed, describe as show, ended, opened, started, words } from "./events.js"

const PARTITIONS = 4
const TIMEOUT = 1000

const workerOptions: WorkerSource.Options = {
  partitions: PARTITIONS,
  sessionTimeout: TIMEOUT,
  expireGrace: 200,
  tick: 100,
  block: 100,
  leaseTtl: 1000,
  retry: Schedule.spaced(50)
}

/** A receiver's stream of one meeting: start, a connection, audio and words, close, its own timeout. */
const meeting = (key: string, seconds: number, t0 = 1000): ReadonlyArray<SessionEvent.SessionEvent> => {
  const session = SessionKey.make(key)
  const out: Array<SessionEvent.SessionEvent> = [started(t0, session), opened(`${key}-c`, t0, session)]
  for (let i = 0; i < seconds * 10; i++) {
    out.push(audio(i / 10, t0 + i * 100, `${key}-c`, session))
    if (i % 10 === 9) out.push(words(`second ${i}`, i / 10, t0 + i * 100 + 50, `${key}-c`, session))
  }
  const end = t0 + seconds * 1000
  out.push(closed(`${key}-c`, end, session), ended("timeout", end + TIMEOUT, session))
  return out
}

/** The log of the context, every operation passed through `gate` (a test's way to cut or freeze it). */
const gatedLog = (
  gate: <A>(
    operation: keyof EventLog.EventLog,
    effect: Effect.Effect<A, EventLog.EventLogError>
  ) => Effect.Effect<A, EventLog.EventLogError>
) =>
  Layer.effect(
    EventLog.EventLog,
    Effect.map(EventLog.EventLog, (inner) =>
      EventLog.EventLog.of({
        append: (e) => gate("append", inner.append(e)),
        read: (o) => gate("read", inner.read(o)),
        claim: (o) => gate("claim", inner.claim(o)),
        commit: (c) => gate("commit", inner.commit(c)),
        checkpoint: (p, n) => gate("checkpoint", inner.checkpoint(p, n)),
        checkpoints: (p) => gate("checkpoints", inner.checkpoints(p)),
        trim: (p, id) => gate("trim", inner.trim(p, id)),
        size: (p) => gate("size", inner.size(p)),
        acquire: (n, o, t) => gate("acquire", inner.acquire(n, o, t)),
        renew: (n, o, t) => gate("renew", inner.renew(n, o, t)),
        release: (n, o) => gate("release", inner.release(n, o)),
        holder: (n) => gate("holder", inner.holder(n)),
        heartbeat: (n, m, t) => gate("heartbeat", inner.heartbeat(n, m, t)),
        depart: (n, m) => gate("depart", inner.depart(n, m))
      }))
  )

const emptyLog = (sessions: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const log = yield* EventLog.EventLog
    for (let p = 0; p < PARTITIONS; p++) if ((yield* log.size(p)) > 0) return false
    for (const session of sessions) {
      const p = LogEntry.partitionOf(SessionKey.make(session), PARTITIONS)
      if (Option.isSome(yield* log.checkpoint(p, `session:${session}`))) return false
    }
    return true
  })

for (const backend of backends()) {
  describe.skipIf(backend.skip)(`publisher and worker (${backend.name})`, () => {
    it.live("every event of every session arrives once, in order, with its raw text; then the log is empty", () =>
      Effect.gen(function*() {
        const keys = ["bot-a", "bot-b", "bot-c"]
        const meetings = keys.map((key, i) => meeting(key, 2 + i))
        // interleaved as a server's flat stream would be
        const flat = meetings.flatMap((m) => m.map((event, i) => [i, event] as const))
          .sort((x, y) => x[0] - y[0]).map(([, event]) => event)
        yield* Publisher.run(Stream.fromIterable(flat).pipe(Stream.rechunk(7)), {
          partitions: PARTITIONS,
          coalesce: 200
        })
        const store = new Store()
        yield* consume(store, () => store.ended === 3).pipe(Effect.provide(WorkerSource.layer(workerOptions)))
        for (const [i, key] of keys.entries()) {
          const got = store.sessions.get(key)!.applied
          assert.deepStrictEqual(got.map(show), meetings[i]!.map(show), key)
          const raws = got.flatMap((e) => e._tag === "Message" ? [e.raw] : [])
          assert.deepStrictEqual(raws, meetings[i]!.flatMap((e) => e._tag === "Message" ? [e.raw] : []))
          const positions = got.map((e) => e.position!)
          assert.deepStrictEqual(positions, [...positions].sort(), "positions increase")
          assert.strictEqual(new Set(positions.map((p) => p.length)).size, 1, "fixed width")
        }
        // acknowledged, trimmed, and the ended sessions' checkpoints removed
        yield* eventually(emptyLog(keys), "the log is empty").pipe(Effect.provide(WorkerSource.layer(workerOptions)))
      }).pipe(Effect.provide(backend.layer())))

    it.live("media wait to share an entry; anything else is written at once with the media before it", () =>
      Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        const session = SessionKey.make("bot-coalesce")
        const p = LogEntry.partitionOf(session, PARTITIONS)
        const head = [started(0, session), opened("c", 0, session)]
        const media = Array.from({ length: 30 }, (_, i) => audio(i / 10, i * 100, "c", session))
        const text = words("now", 3, 3000, "c", session)
        const gate = yield* Deferred.make<void>()
        // one event per chunk, as a live server hands them on; then the input stays open
        const input = Stream.fromIterable([...head, ...media, text, audio(3, 3000, "c", session)]).pipe(
          Stream.rechunk(1),
          Stream.concat(Stream.fromEffect(Deferred.await(gate)).pipe(Stream.drain))
        )
        const publishing = yield* Effect.fork(Publisher.run(input, { partitions: PARTITIONS, coalesce: 400 }))
        // the last audio waits...
        yield* eventually(Effect.map(log.size(p), (n) => n >= 1), "the words are written")
        const first = yield* log.size(p)
        // the start and the connection are written at once, each in its own chunk; the media then share one entry
        // with the words
        assert.strictEqual(first, 3)
        // ...and is written once it has waited its time, though no more input comes
        yield* eventually(Effect.map(log.size(p), (n) => n === first + 1), "the lone audio is written")
        yield* Deferred.succeed(gate, void 0)
        yield* publishing.await

        // the same input without coalescing: one entry per chunk
        const plain = SessionKey.make("bot-plain")
        yield* Publisher.run(
          Stream.fromIterable(media.map((e) => ({ ...e, session: plain }))).pipe(Stream.rechunk(1)),
          { partitions: PARTITIONS, coalesce: 0 }
        )
        assert.strictEqual(yield* log.size(LogEntry.partitionOf(plain, PARTITIONS)), 30)
      }).pipe(Effect.provide(backend.layer())))

    it.live("a meeting that moves between receivers comes out as one session", () =>
      Effect.gen(function*() {
        const a = meeting("bot-moved", 1, 1000).slice(0, -1) // A's connection closes; A's own timeout comes later
        const session = SessionKey.make("bot-moved")
        const b = [
          started(5000, session),
          opened("b-c", 5000, session),
          audio(4, 5000, "b-c", session),
          closed("b-c", 6000, session),
          ended("timeout", 6000 + TIMEOUT, session)
        ]
        yield* Publisher.run(Stream.fromIterable(a), { partitions: PARTITIONS, receiver: "A" })
        yield* Publisher.run(Stream.fromIterable(b), { partitions: PARTITIONS, receiver: "B" })
        yield* Publisher.run(Stream.make(ended("timeout", 2000 + TIMEOUT, session)), {
          partitions: PARTITIONS,
          receiver: "A"
        })
        const store = new Store()
        yield* consume(store, () => store.ended === 1).pipe(Effect.provide(WorkerSource.layer(workerOptions)))
        const got = store.applied("bot-moved")
        assert.strictEqual(got.filter((e) => e === "SessionStarted").length, 1)
        assert.deepStrictEqual(got.slice(-6), [
          "ConnectionClosed bot-moved-c",
          "ConnectionOpened b-c",
          "Gap 1.7-4", // from the end of the last words heard on A
          "audio_mixed_raw.data@5000",
          "ConnectionClosed b-c",
          `SessionEnded timeout@${6000 + TIMEOUT}`
        ])
      }).pipe(Effect.provide(backend.layer())))

    it.live("a receiver that dies with a connection open: the worker closes it and ends the session after the timeout", () =>
      Effect.gen(function*() {
        const session = SessionKey.make("bot-orphan")
        // the receiver publishes, then is gone (its liveness lease ends with it) before any close or end
        yield* Publisher.run(
          Stream.make(started(0, session), opened("o-c", 0, session), audio(0, 0, "o-c", session)),
          { partitions: PARTITIONS, receiver: "gone" }
        )
        const store = new Store()
        // the worker's first write of its note fails: it is written again on a later round
        let appends = 0
        const flaky = gatedLog((operation, effect) =>
          operation === "append" && appends++ === 0
            ? Effect.fail(new EventLog.EventLogError({ reason: "Unavailable", operation, cause: "cut off" }))
            : effect
        )
        yield* consume(store, () => store.ended === 1).pipe(
          Effect.provide(WorkerSource.layer(workerOptions).pipe(Layer.provide(flaky)))
        )
        assert.isAtLeast(appends, 2)
        const got = store.sessions.get("bot-orphan")!.applied
        const end = got.at(-1) as SessionEvent.SessionEnded
        assert.deepStrictEqual(got.map(show), [
          "SessionStarted",
          "ConnectionOpened o-c",
          "audio_mixed_raw.data@0",
          "ConnectionClosed o-c",
          `SessionEnded timeout@${end.at}`
        ])
        const close = got[3] as SessionEvent.ConnectionClosed
        assert.deepStrictEqual([close.code, close.reason], [1006, "receiver lost"])
        assert.isAtLeast(end.at - close.at, TIMEOUT, "ended no sooner than the timeout after the loss")
      }).pipe(Effect.provide(backend.layer())))

    it.live("a session whose receivers shut down, taken over with nothing more to read: its new owner ends it on time and leaves nothing", () =>
      Effect.gen(function*() {
        const timeout = 3000
        // no grace: the receiver said its side ended, so no receiver will time the session out
        const options = { ...workerOptions, sessionTimeout: timeout, expireGrace: 60_000 }
        const session = SessionKey.make("bot-quiet")
        const t0 = Date.now()
        yield* Publisher.run(
          Stream.make(
            started(t0, session),
            opened("q-c", t0, session),
            audio(0, t0, "q-c", session),
            closed("q-c", t0 + 100, session),
            ended("shutdown", t0 + 100, session)
          ),
          { partitions: PARTITIONS, receiver: "R" }
        )
        const store = new Store()
        // the first worker records what there is, commits it and stops, handing its partitions back
        yield* consume(store, () => store.applied("bot-quiet").length === 4).pipe(
          Effect.provide(WorkerSource.layer({ ...options, consumer: "first" }))
        )
        yield* consume(store, () => store.ended === 1).pipe(
          Effect.provide(WorkerSource.layer({ ...options, consumer: "second" })),
          Effect.timeout("30 seconds")
        )
        const got = store.sessions.get("bot-quiet")!.applied
        assert.deepStrictEqual(got.map(show), [
          "SessionStarted",
          "ConnectionOpened q-c",
          `audio_mixed_raw.data@${t0}`,
          "ConnectionClosed q-c",
          `SessionEnded timeout@${t0 + 100 + timeout}`
        ])
        yield* eventually(emptyLog(["bot-quiet"]), "the log is empty").pipe(
          Effect.provide(WorkerSource.layer({ ...options, consumer: "third" }))
        )
      }).pipe(Effect.provide(backend.layer())))

    it.live("a worker that stops renewing its lease is taken over: pending entries claimed, nothing lost or repeated", () =>
      Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        const keys = ["bot-x", "bot-y"]
        const meetings = keys.map((key) => meeting(key, 3))
        for (const m of meetings) {
          yield* Publisher.run(Stream.fromIterable(m).pipe(Stream.rechunk(1)), { partitions: PARTITIONS, coalesce: 0 })
        }
        const store = new Store()

        // the first worker reaches the log through a connection that can be cut: then it is frozen for good, as a
        // process that hangs or lost its network (its leases expire; its finalizers never reach the log)
        let frozen = false
        const freezable = gatedLog((_operation, effect) => Effect.suspend(() => frozen ? Effect.never : effect))
        const firstScope = yield* Scope.make()
        const first = yield* Layer.buildWithScope(
          WorkerSource.layer({ ...workerOptions, consumer: "first" }).pipe(Layer.provide(freezable)),
          firstScope
        )
        const total = meetings.reduce((n, m) => n + m.length, 0)
        let seen = 0
        // applies about half of everything, committing only every 4th event
        yield* consume(store, () => ++seen >= total / 2, 4).pipe(Effect.provide(first))
        frozen = true
        const appliedBefore = keys.map((key) => store.applied(key).length)

        yield* consume(store, () => store.ended === 2).pipe(
          Effect.provide(WorkerSource.layer({ ...workerOptions, consumer: "second" }))
        )
        for (const [i, key] of keys.entries()) {
          assert.deepStrictEqual(store.applied(key), meetings[i]!.map(show), `${key}: every event exactly once`)
        }
        assert.isTrue(appliedBefore.some((n) => n > 0), "the first worker had applied some")
        yield* eventually(emptyLog(keys), "the log is empty").pipe(
          Effect.provide(WorkerSource.layer({ ...workerOptions, consumer: "third" }))
        )
        assert.strictEqual(yield* log.size(0), 0)
        // the frozen worker's scope is abandoned (its finalizers would wait on the log forever)
        void Effect.runFork(Scope.close(firstScope, Exit.void))
      }).pipe(Effect.provide(backend.layer())))

    it.live("a worker that joins takes its share: the other hands partitions over mid-meeting, every event arrives once", () =>
      Effect.gen(function*() {
        // sessions on every partition, each published in two halves by one receiver that stays up
        const keys = Array.from({ length: 12 }, (_, i) => `bot-share-${i}`)
        const partitionOf = (key: string) => LogEntry.partitionOf(SessionKey.make(key), PARTITIONS)
        assert.deepStrictEqual(new Set(keys.map(partitionOf)).size, PARTITIONS, "the keys cover every partition")
        const meetings = keys.map((key) => meeting(key, 2))
        const input = yield* Queue.unbounded<SessionEvent.SessionEvent>()
        const publishing = yield* Effect.fork(
          Publisher.run(Stream.fromQueue(input), { partitions: PARTITIONS, receiver: "R", coalesce: 0 })
        )
        const half = (m: ReadonlyArray<SessionEvent.SessionEvent>) => Math.floor(m.length / 2)
        yield* Queue.offerAll(input, meetings.flatMap((m) => m.slice(0, half(m))))

        // what each worker's consumer saw, per session; it commits every event, the handovers too
        const seen = new Map<string, Array<{ readonly by: string; readonly event: SessionEvent.SessionEvent }>>()
        const consumer = (by: string) =>
          Effect.gen(function*() {
            const worker = yield* WorkerSource.WorkerSource
            yield* worker.events.pipe(Stream.runForEach((event) =>
              Effect.suspend(() => {
                const list = seen.get(event.session) ?? []
                seen.set(event.session, list)
                list.push({ by, event })
                return worker.commit(event.session, event.position!)
              })
            ))
          })
        const count = () => Array.from(seen.values()).reduce((n, list) => n + list.length, 0)
        const firstHalves = meetings.reduce((n, m) => n + half(m), 0)

        const first = yield* Layer.build(WorkerSource.layer({ ...workerOptions, consumer: "first" }))
        const firstWorker = Context.get(first, WorkerSource.WorkerSource)
        yield* Effect.fork(consumer("first").pipe(Effect.provide(first)))
        yield* eventually(Effect.sync(() => count() === firstHalves), "the first worker had every first half")
        assert.deepStrictEqual(yield* firstWorker.partitions, [0, 1, 2, 3])

        const second = yield* Layer.build(WorkerSource.layer({ ...workerOptions, consumer: "second" }))
        const secondWorker = Context.get(second, WorkerSource.WorkerSource)
        yield* Effect.fork(consumer("second").pipe(Effect.provide(second)))
        // the first hands its highest partitions over, one at a time, to the second
        yield* eventually(
          Effect.map(
            Effect.all([firstWorker.partitions, secondWorker.partitions]),
            ([a, b]) => a.join() === "0,1" && b.join() === "2,3"
          ),
          "two partitions each"
        )

        yield* Queue.offerAll(input, meetings.flatMap((m) => m.slice(half(m))))
        const ends = () =>
          Array.from(seen.values()).flat().filter(({ event }) =>
            event._tag === "SessionEnded" && event.reason === "timeout"
          ).length
        yield* eventually(Effect.sync(() => ends() === keys.length), "every meeting ended")
        yield* Queue.shutdown(input)
        yield* Fiber.join(publishing)

        for (const [i, key] of keys.entries()) {
          const list = seen.get(key)!
          const handovers = list.filter(({ event }) => event._tag === "SessionEnded" && event.reason === "handover")
          const rest = list.filter((x) => !handovers.includes(x))
          assert.deepStrictEqual(rest.map(({ event }) => show(event)), meetings[i]!.map(show), `${key}: once each`)
          const positions = list.map(({ event }) => event.position!)
          assert.deepStrictEqual(positions, [...positions].sort(), `${key}: positions increase, the handover's too`)
          if (partitionOf(key) < 2) {
            assert.isEmpty(handovers, `${key} stays with the first`)
            assert.isTrue(list.every(({ by }) => by === "first"))
          } else {
            // ended on the first after the events it emitted, continued by the second
            assert.strictEqual(handovers.length, 1, `${key} handed over once`)
            const at = list.indexOf(handovers[0]!)
            assert.strictEqual(handovers[0]!.by, "first")
            assert.isTrue(list.slice(0, at).every(({ by }) => by === "first"), `${key}: before, the first`)
            assert.isTrue(list.slice(at + 1).every(({ by }) => by === "second"), `${key}: after, the second`)
            assert.isAbove(list.length - at - 1, 0, `${key}: the second went on with it`)
          }
        }
      }).pipe(Effect.scoped, Effect.provide(backend.layer())))

    it.live("shares are as even as each worker's limit allows, and one that stops leaves its share to the others", () =>
      Effect.gen(function*() {
        // each worker in a scope of its own, closed at the end of the test whatever happens
        const scopes: Array<Scope.CloseableScope> = []
        yield* Effect.addFinalizer(() => Effect.forEach(scopes, (scope) => Scope.close(scope, Exit.void)))
        const scopeOf = (id: string, maxPartitions?: number) =>
          Effect.flatMap(Scope.make(), (scope) => {
            scopes.push(scope)
            return Effect.map(
              WorkerSource.make({ ...workerOptions, consumer: id, maxPartitions }).pipe(Scope.extend(scope)),
              (worker) => ({ worker, scope })
            )
          })
        // the one limited to one partition gets it; the other three are shared, the first id taking the extra one
        const a = yield* scopeOf("a", 1)
        const b = yield* scopeOf("b")
        const c = yield* scopeOf("c")
        const held = Effect.all([a, b, c].map(({ worker }) => worker.partitions))
        yield* eventually(
          Effect.map(held, (all) => all.map((p) => p.length).join() === "1,2,1" && new Set(all.flat()).size === 4),
          "shares of 1, 2 and 1, every partition owned"
        )
        // b stops: the others share its partitions, a still within its limit
        yield* Scope.close(b.scope, Exit.void)
        yield* eventually(
          Effect.map(
            Effect.all([a.worker.partitions, c.worker.partitions]),
            ([x, y]) => x.length === 1 && y.length === 3
          ),
          "a keeps its one, c takes the rest"
        )
      }).pipe(Effect.scoped, Effect.provide(backend.layer())))

    it.live("workers started together take their shares from the start, with nothing to hand over", () =>
      Effect.gen(function*() {
        const [first, second] = yield* Effect.all([
          WorkerSource.make({ ...workerOptions, consumer: "first" }),
          WorkerSource.make({ ...workerOptions, consumer: "second" })
        ], { concurrency: "unbounded" })
        const held = [yield* first.partitions, yield* second.partitions]
        assert.deepStrictEqual(held.map((p) => p.length), [2, 2], "two each once both have started")
        assert.strictEqual(new Set(held.flat()).size, PARTITIONS)
      }).pipe(Effect.scoped, Effect.provide(backend.layer())))

    it.live("with rebalance off, a worker keeps what it holds when another joins", () =>
      Effect.gen(function*() {
        const options = { ...workerOptions, rebalance: false }
        const first = yield* WorkerSource.make({ ...options, consumer: "first" })
        const second = yield* WorkerSource.make({ ...options, consumer: "second" })
        yield* Effect.sleep(Duration.millis(workerOptions.tick as number * 5))
        assert.deepStrictEqual(yield* first.partitions, [0, 1, 2, 3])
        assert.deepStrictEqual(yield* second.partitions, [])
      }).pipe(Effect.scoped, Effect.provide(backend.layer())))

    it.live("a worker whose partition another worker holds now gives it up and says which", () =>
      Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        yield* Effect.scoped(Effect.gen(function*() {
          const worker = yield* WorkerSource.make({ ...workerOptions, consumer: "first" })
          assert.deepStrictEqual(yield* worker.partitions, Array.from({ length: PARTITIONS }, (_, i) => i))
          const lease = WorkerSource.partitionLease(2)
          yield* log.release(lease, "first")
          assert.isTrue(yield* log.acquire(lease, "second", Duration.seconds(60)))
          assert.strictEqual(yield* worker.lost.pipe(Effect.timeout("10 seconds")), 2)
          assert.notInclude(yield* worker.partitions, 2)
          // the others stay its own
          assert.strictEqual(Option.getOrUndefined(yield* log.holder(WorkerSource.partitionLease(0))), "first")
        }))
      }).pipe(Effect.provide(backend.layer())))
  })
}
