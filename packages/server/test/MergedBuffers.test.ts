import { Fixtures } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { EventBuffer, MergedBuffers } from "../src/internal/buffer.js"
import { HURRY_HELD_BYTES } from "../src/internal/flow.js"
import { makeHarness } from "./router.js"

/**
 * Lets everything that is ready run: pending microtasks, Effect's scheduler, I/O callbacks. No clock is involved, so
 * nothing is left to chance: what has not happened after this would not happen later either.
 */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 5; i++) {
    yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    yield* Effect.yieldNow()
  }
})

/** Lets every queued microtask run (the reader's fiber included), as between two I/O callbacks of one turn. */
const microtasks = async () => {
  for (let i = 0; i < 100; i++) await Promise.resolve()
}

/**
 * Runs `body` as one turn of the event loop would run several I/O callbacks: microtasks run after each step, and
 * nothing scheduled for the end of the turn (`setImmediate`) runs before the last one.
 */
const oneTurn = (body: (callback: () => Promise<void>) => Promise<void>) =>
  Effect.promise(() =>
    new Promise<void>((resolve, reject) => {
      let turnEnded = false
      setTimeout(() => {
        setImmediate(() => (turnEnded = true))
        body(async () => {
          await microtasks()
          assert.isFalse(turnEnded, "still in the same turn")
        }).then(resolve, reject)
      }, 0)
    })
  )

/** Reads `stream` in a fiber, keeping each chunk as it arrives. */
const reader = <A>(stream: Stream.Stream<A>) =>
  Effect.gen(function*() {
    const chunks: Array<ReadonlyArray<A>> = []
    const fiber = yield* stream.pipe(
      Stream.runForEachChunk((chunk) => Effect.sync(() => void chunks.push(Chunk.toReadonlyArray(chunk)))),
      Effect.fork
    )
    yield* settle
    return { chunks, fiber }
  })

describe("EventBuffer", () => {
  it.effect("what several callbacks of one turn offer reaches the waiting reader as one chunk, after the turn", () =>
    Effect.gen(function*() {
      const buffer = new EventBuffer<number>(Infinity, () => {})
      const { chunks, fiber } = yield* reader(buffer.stream)
      yield* oneTurn(async (callback) => {
        for (let i = 0; i < 3; i++) {
          buffer.offer(i)
          await callback()
        }
        assert.deepStrictEqual(chunks, [])
      })
      yield* settle
      assert.deepStrictEqual(chunks, [[0, 1, 2]])
      buffer.end()
      yield* Fiber.join(fiber)
    }))

  it.effect("a hurried buffer is read right after the current callback, within the turn", () =>
    Effect.gen(function*() {
      const buffer = new EventBuffer<number>(Infinity, () => {})
      const { chunks, fiber } = yield* reader(buffer.stream)
      yield* oneTurn(async (callback) => {
        buffer.offer(0)
        buffer.offer(1)
        buffer.hurry()
        await callback()
        assert.deepStrictEqual(chunks, [[0, 1]])
        buffer.offer(2)
        await callback()
        assert.deepStrictEqual(chunks, [[0, 1]])
      })
      yield* settle
      assert.deepStrictEqual(chunks, [[0, 1], [2]])
      buffer.end()
      yield* Fiber.join(fiber)
    }))

  it.effect("once all sessions together hold 256 KiB, the waiting reader takes within the turn", () =>
    Effect.gen(function*() {
      const h = makeHarness()
      const sessions = new EventBuffer<(typeof h.sessions)[number]>(Infinity, () => {}, true)
      h.hooks.published = (session) => sessions.offer(session)
      const { chunks, fiber } = yield* reader(new MergedBuffers(sessions, (s) => s.buffer, 4096).stream)
      const frame = Buffer.from(
        JSON.stringify(Fixtures.audio({ at: 1, samples: Fixtures.tone(440, 1, 0.1), botId: "bot-0" }))
      )
      let most = 0
      yield* oneTurn(async (callback) => {
        // one frame for each of many sessions: no session's buffer comes near a limit of its own
        for (let i = 0; i < 200; i++) {
          const text = frame.toString("utf8").replaceAll("bot-0", `bot-${i}`)
          h.router.frame(h.connect().connection, Buffer.from(text))
          await callback()
          most = Math.max(most, h.router.flow.queuedBytes)
        }
        assert.isAbove(chunks.length, 0)
      })
      assert.isAbove(200 * frame.byteLength, 2 * HURRY_HELD_BYTES)
      assert.isBelow(most, HURRY_HELD_BYTES + frame.byteLength + 1024)
      h.router.endAll("shutdown")
      sessions.end()
      yield* Fiber.join(fiber)
    }))

  it.live("a reader that keeps finding items takes them for a slice, then lets the event loop come round", () =>
    Effect.gen(function*() {
      const buffer = new EventBuffer<number>(10, () => {})
      for (let i = 0; i < 10_000; i++) buffer.offer(i)
      buffer.end()
      // each chunk of ten costs the reader 1 ms; a timer of the loop set now fires once the reader had its slice
      let chunksWhenTimerFired = -1
      let chunks = 0
      setTimeout(() => (chunksWhenTimerFired = chunks), 0)
      yield* buffer.stream.pipe(
        Stream.runForEachChunk(() =>
          Effect.sync(() => {
            chunks++
            const until = performance.now() + 1
            while (performance.now() < until) {
              // busy
            }
          })
        )
      )
      assert.strictEqual(chunks, 1_000)
      assert.isAtLeast(chunksWhenTimerFired, 1)
      // about SLICE_MS chunks; without the slice all 1,000 are taken before the loop goes on
      assert.isAtMost(chunksWhenTimerFired, 200)
    }))

  it.effect("an urgent buffer hands every item over right after the current callback", () =>
    Effect.gen(function*() {
      const buffer = new EventBuffer<number>(Infinity, () => {}, true)
      const { chunks, fiber } = yield* reader(buffer.stream)
      yield* oneTurn(async (callback) => {
        buffer.offer(0)
        await callback()
        buffer.offer(1)
        await callback()
        assert.deepStrictEqual(chunks, [[0], [1]])
      })
      buffer.end()
      yield* Fiber.join(fiber)
    }))

  for (const merged of [false, true]) {
    it.effect(
      `a turn that brings a session more frames than its buffer holds sheds nothing while its ${
        merged ? "merged" : "own"
      } reader keeps up`,
      () =>
        Effect.gen(function*() {
          const bufferSize = 8
          const h = makeHarness({ bufferSize })
          const { connection, socket } = h.connect()
          h.router.frame(connection, Buffer.from(JSON.stringify(Fixtures.transcript("hello"))))
          const session = h.sessions[0]!
          const sessions = new EventBuffer<typeof session>(Infinity, () => {})
          sessions.offer(session)
          sessions.end()
          const { chunks, fiber } = yield* reader(
            merged ? new MergedBuffers(sessions, (s: typeof session) => s.buffer, 4096).stream : session.events
          )
          yield* oneTurn(async (callback) => {
            for (let i = 0; i < 5 * bufferSize; i++) {
              h.router.frame(connection, Buffer.from(JSON.stringify(Fixtures.audio({ at: i / 10 }))))
              await callback()
            }
          })
          yield* settle
          const items = chunks.flat()
          assert.strictEqual(items.filter((item) => item._tag === "Message").length, 1 + 5 * bufferSize)
          assert.deepStrictEqual(items.filter((item) => item._tag === "Dropped"), [])
          assert.deepStrictEqual([h.router.outcomes.shed, socket.pauses], [0, 0])
          h.router.end(session, "shutdown")
          yield* Fiber.join(fiber)
        })
    )
  }
})

const source = () => {
  const taken = new Map<string, number>()
  const buffer = (name: string) => new EventBuffer<string>(Infinity, (n) => taken.set(name, (taken.get(name) ?? 0) + n))
  const sessions = new EventBuffer<EventBuffer<string>>(Infinity, () => {})
  return { taken, buffer, sessions }
}

describe("MergedBuffers", () => {
  it.effect("reads every buffer in order, caps chunks, lets no busy buffer starve another, ends after all", () =>
    Effect.gen(function*() {
      const { buffer, sessions, taken } = source()
      const merged = new MergedBuffers(sessions, (b: EventBuffer<string>) => b, 4)
      const chunks: Array<ReadonlyArray<string>> = []
      const fiber = yield* merged.stream.pipe(
        Stream.runForEachChunk((chunk) => Effect.sync(() => void chunks.push(Chunk.toReadonlyArray(chunk)))),
        Effect.fork
      )
      const a = buffer("a")
      const b = buffer("b")
      sessions.offer(a)
      sessions.offer(b)
      for (let i = 0; i < 10; i++) a.offer(`a${i}`)
      b.offer("b0")
      yield* settle
      // a buffer a later session fills still reaches the reader
      const c = buffer("c")
      sessions.offer(c)
      c.offer("c0")
      a.end()
      b.end()
      c.end()
      sessions.end()
      yield* Fiber.join(fiber)
      const all = chunks.flat()
      assert.deepStrictEqual(all.filter((x) => x.startsWith("a")), Array.from({ length: 10 }, (_, i) => `a${i}`))
      assert.deepStrictEqual(all.filter((x) => !x.startsWith("a")).sort(), ["b0", "c0"])
      for (const chunk of chunks) assert.isAtMost(chunk.length, 4)
      // `a` had more than a chunk ready: `b` got its turn before `a` was emptied
      assert.isBelow(all.indexOf("b0"), all.indexOf("a9"))
      // every take was reported to its buffer's owner
      assert.deepStrictEqual([taken.get("a"), taken.get("b"), taken.get("c")], [10, 1, 1])
    }))

  it.effect("waits for the source to end before ending, even with no buffer open", () =>
    Effect.gen(function*() {
      const { buffer, sessions } = source()
      const merged = new MergedBuffers(sessions, (b: EventBuffer<string>) => b, 16)
      const fiber = yield* Effect.fork(Stream.runCollect(merged.stream))
      yield* settle
      assert.isNull(fiber.unsafePoll())
      const late = buffer("late")
      sessions.offer(late)
      late.offer("x")
      late.end()
      yield* settle
      assert.isNull(fiber.unsafePoll())
      sessions.end()
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(fiber)), ["x"])
    }))
})
