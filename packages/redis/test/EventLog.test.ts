import * as EventLog from "@callstream/redis/EventLog"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { backends } from "./backends.js"

// one suite, every implementation
for (const backend of backends()) {
  describe.skipIf(backend.skip)(`EventLog (${backend.name})`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E, EventLog.EventLog>) => Effect.provide(effect, backend.layer())

    const payloads = (reads: ReadonlyArray<EventLog.Read>) =>
      reads.flatMap((read) => read.entries.map((entry) => `${read.partition}:${entry.payload}`))

    it.live("entries come back in order, once per group, with orders that sort as they were appended", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        yield* log.append(Array.from({ length: 25 }, (_, i) => ({ partition: i % 2, payload: `e${i}` })))
        yield* log.claim({ partition: 0, group: "g", consumer: "a" })
        yield* log.claim({ partition: 1, group: "g", consumer: "a" })
        const first = yield* log.read({ partitions: [0, 1], group: "g", consumer: "a", count: 5, block: 10 })
        const rest = yield* log.read({ partitions: [0, 1], group: "g", consumer: "b", count: 100, block: 10 })
        const seen = [...payloads(first), ...payloads(rest)]
        assert.deepStrictEqual(
          seen.filter((p) => p.startsWith("0:")),
          Array.from({ length: 13 }, (_, i) => `0:e${i * 2}`)
        )
        assert.strictEqual(seen.length, 25)
        const orders = [...first, ...rest].filter((r) => r.partition === 0).flatMap((r) =>
          r.entries.map((e) => e.order)
        )
        assert.deepStrictEqual(orders, [...orders].sort())
        assert.strictEqual(new Set(orders.map((o) => o.length)).size, 1)
        const none = yield* log.read({ partitions: [0, 1], group: "g", consumer: "a", count: 100, block: 10 })
        assert.deepStrictEqual(none, [])
      })))

    it.live("a read on a partition the group has not joined is rejected", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        yield* log.append([{ partition: 7, payload: "x" }])
        const error = yield* Effect.flip(
          log.read({ partitions: [7], group: "g", consumer: "a", count: 10, block: 10 })
        )
        assert.strictEqual(error.reason, "Rejected")
        assert.include(error.message, "NOGROUP")
      })))

    it.live("a blocked read wakes up for an append", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        yield* log.claim({ partition: 3, group: "g", consumer: "a" })
        const reading = yield* Effect.fork(
          log.read({ partitions: [3], group: "g", consumer: "a", count: 10, block: "20 seconds" })
        )
        yield* Effect.sleep(100)
        yield* log.append([{ partition: 3, payload: "late" }])
        const reads = yield* reading.await.pipe(Effect.flatten, Effect.timeout("10 seconds"))
        assert.deepStrictEqual(payloads(reads), ["3:late"])
      })))

    it.live("claim hands a dead consumer's pending entries to another, and commit acknowledges them", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        yield* log.append([1, 2, 3].map((n) => ({ partition: 0, payload: `p${n}` })))
        yield* log.claim({ partition: 0, group: "g", consumer: "dead" })
        const read = yield* log.read({ partitions: [0], group: "g", consumer: "dead", count: 10, block: 10 })
        const ids = read[0]!.entries.map((e) => e.id)
        assert.isTrue(yield* log.acquire("p0", "dead", 60_000))
        assert.isTrue(yield* log.commit({ partition: 0, group: "g", lease: "p0", owner: "dead", ids: [ids[0]!] }))
        yield* log.release("p0", "dead")

        const claimed = yield* log.claim({ partition: 0, group: "g", consumer: "alive" })
        assert.deepStrictEqual(claimed.entries.map((e) => e.payload), ["p2", "p3"])
        assert.deepStrictEqual(claimed.missing, [])
        assert.isTrue(yield* log.acquire("p0", "alive", 60_000))
        assert.isTrue(
          yield* log.commit({
            partition: 0,
            group: "g",
            lease: "p0",
            owner: "alive",
            ids: claimed.entries.map((e) => e.id)
          })
        )
        const again = yield* log.claim({ partition: 0, group: "g", consumer: "third" })
        assert.deepStrictEqual(again.entries, [])
      })))

    it.live("a commit without the lease changes nothing; with it, checkpoints are saved and removed", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        yield* log.append([{ partition: 2, payload: "x" }])
        yield* log.claim({ partition: 2, group: "g", consumer: "a" })
        const [read] = yield* log.read({ partitions: [2], group: "g", consumer: "a", count: 10, block: 10 })
        const id = read!.entries[0]!.id
        assert.isTrue(yield* log.acquire("p2", "b", 60_000))
        const refused = yield* log.commit({
          partition: 2,
          group: "g",
          lease: "p2",
          owner: "a",
          ids: [id],
          checkpoints: [["s", "1"]]
        })
        assert.isFalse(refused)
        assert.isTrue(Option.isNone(yield* log.checkpoint(2, "s")))
        const claimed = yield* log.claim({ partition: 2, group: "g", consumer: "b" })
        assert.strictEqual(claimed.entries.length, 1, "still pending")

        assert.isTrue(
          yield* log.commit({ partition: 2, group: "g", lease: "p2", owner: "b", ids: [id], checkpoints: [["s", "1"]] })
        )
        assert.deepStrictEqual(yield* log.checkpoint(2, "s"), Option.some("1"))
        assert.isTrue(
          yield* log.commit({ partition: 2, group: "g", lease: "p2", owner: "b", ids: [], checkpoints: [["s", null]] })
        )
        assert.isTrue(Option.isNone(yield* log.checkpoint(2, "s")))
      })))

    it.live("a partition's checkpoints are listed together; each commit sets and removes several at once", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        assert.isTrue(yield* log.acquire("p6", "a", 60_000))
        const commit = (checkpoints: ReadonlyArray<readonly [string, string | null]>) =>
          log.commit({ partition: 6, group: "g", lease: "p6", owner: "a", ids: [], checkpoints })
        assert.deepStrictEqual(yield* log.checkpoints(6), [])
        assert.isTrue(yield* commit([["x", "1"], ["y", "2"], ["z", "3"]]))
        assert.isTrue(yield* commit([["x", null], ["y", "two"]]))
        const sorted = (all: ReadonlyArray<readonly [string, string]>) =>
          [...all].sort(([a], [b]) => a.localeCompare(b))
        assert.deepStrictEqual(sorted(yield* log.checkpoints(6)), [["y", "two"], ["z", "3"]])
        assert.deepStrictEqual(yield* log.checkpoints(7), [], "other partitions have their own")
        assert.isTrue(yield* commit([["y", null], ["z", null]]))
        assert.deepStrictEqual(yield* log.checkpoints(6), [])
      })))

    it.live("trim removes entries up to an id and no further", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        yield* log.append([1, 2, 3, 4].map((n) => ({ partition: 5, payload: `t${n}` })))
        yield* log.claim({ partition: 5, group: "g", consumer: "a" })
        const [read] = yield* log.read({ partitions: [5], group: "g", consumer: "a", count: 10, block: 10 })
        yield* log.trim(5, read!.entries[1]!.id)
        assert.strictEqual(yield* log.size(5), 2)
        yield* log.trim(5, read!.entries[3]!.id)
        assert.strictEqual(yield* log.size(5), 0)
      })))

    it.live("a lease has one holder until it is released or expires", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog.EventLog
        assert.isTrue(yield* log.acquire("l", "a", 60_000))
        assert.isFalse(yield* log.acquire("l", "b", 60_000))
        assert.isFalse(yield* log.renew("l", "b", 60_000))
        assert.isTrue(yield* log.renew("l", "a", 60_000))
        yield* log.release("l", "b") // not the holder: nothing happens
        assert.deepStrictEqual(yield* log.holder("l"), Option.some("a"))
        yield* log.release("l", "a")
        assert.isTrue(Option.isNone(yield* log.holder("l")))

        assert.isTrue(yield* log.acquire("short", "a", 150))
        yield* Effect.sleep(400)
        assert.isFalse(yield* log.renew("short", "a", 150), "expired")
        assert.isTrue(yield* log.acquire("short", "b", 60_000))
      })))
  })
}
