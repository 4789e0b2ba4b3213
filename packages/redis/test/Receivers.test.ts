import { EventSource, SampleMeeting, type SessionEvent } from "@callstream/core"
import * as Publisher from "@callstream/redis/Publisher"
import * as WorkerSource from "@callstream/redis/WorkerSource"
import { RecallServer, RecallSimulator } from "@callstream/server"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { backends } from "./backends.js"
import { consume, eventually, Store } from "./consumer.js"

const PARTITIONS = 4

/** What must match between the worker's session and a single server's: everything but times and connection ids. */
const comparable = (event: SessionEvent.SessionEvent): string => {
  switch (event._tag) {
    case "Message":
      return event.raw ?? ""
    case "Gap":
      return `Gap ${event.from}-${event.to}`
    case "SessionEnded":
      return `SessionEnded ${event.reason}`
    default:
      return event._tag
  }
}

const meeting = SampleMeeting.generate({ duration: 6, seed: 7, separate: true, video: true })
const half = Math.floor(meeting.entries.length / 2)
const firstHalf = meeting.entries.slice(0, half)
const secondHalf = meeting.entries.slice(half)

const replay = (server: RecallServer.RecallServer["Type"], entries: typeof meeting.entries) =>
  RecallSimulator.replay(entries, { url: server.address.url, speed: Infinity, retries: 0 })

/** Waits until a server has no connection left (the replay's socket is seen closed). */
const closedOn = (server: RecallServer.RecallServer["Type"]) =>
  eventually(Effect.map(server.health, (health) => health.connections === 0), "the connection is closed")

for (const backend of backends()) {
  describe.skipIf(backend.skip)(`real receivers (${backend.name})`, () => {
    it.live("a meeting replayed into one server, then another, is one session equal to a single server's", () =>
      Effect.gen(function*() {
        // the reference: one server sees both halves
        const single = yield* Effect.gen(function*() {
          const server = yield* RecallServer.RecallServer
          const source = yield* EventSource.EventSource
          const collecting = yield* source.events.pipe(
            Stream.takeUntil((event) => event._tag === "SessionEnded"),
            Stream.runCollect,
            Effect.fork
          )
          yield* replay(server, firstHalf)
          yield* closedOn(server)
          yield* replay(server, secondHalf)
          return Array.from(yield* collecting.await.pipe(Effect.flatten))
        }).pipe(Effect.provide(RecallServer.layerTest()))

        // two receivers publishing to one log, and a worker
        const receiver = (id: string) =>
          Effect.gen(function*() {
            const scope = yield* Scope.make()
            const context = yield* Layer.buildWithScope(
              Publisher.layerFrom(RecallServer.layerTest(), { partitions: PARTITIONS, receiver: id }),
              scope
            )
            return { server: Context.get(context, RecallServer.RecallServer), scope }
          })
        const a = yield* receiver("A")
        const b = yield* receiver("B")
        const store = new Store()
        const working = yield* consume(store, () => store.ended === 1).pipe(
          Effect.provide(WorkerSource.layer({
            partitions: PARTITIONS,
            sessionTimeout: 1000,
            tick: 100,
            block: 100,
            retry: Schedule.spaced(50)
          })),
          Effect.fork
        )
        yield* replay(a.server, firstHalf)
        yield* closedOn(a.server)
        // the close has reached the worker before the meeting reconnects elsewhere
        yield* eventually(
          Effect.sync(() =>
            store.sessions.values().next().value?.applied.some((e) => e._tag === "ConnectionClosed") === true
          ),
          "the first connection's close is published"
        )
        yield* replay(b.server, secondHalf)
        yield* working.await.pipe(Effect.timeout("60 seconds"))
        // the receivers stop: each server first, then its publisher drains
        yield* Scope.close(a.scope, Exit.void)
        yield* Scope.close(b.scope, Exit.void)

        const merged = Array.from(store.sessions.values())[0]!.applied
        assert.strictEqual(store.sessions.size, 1, "one session")
        assert.deepStrictEqual(merged.map(comparable), single.map(comparable))
        assert.strictEqual(merged.filter((e) => e._tag === "Gap").length, 1)
        assert.strictEqual(merged.filter((e) => e._tag === "Message").length, meeting.entries.length)
      }).pipe(Effect.provide(backend.layer())))
  })
}
