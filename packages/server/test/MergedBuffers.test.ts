import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { EventBuffer, MergedBuffers } from "../src/internal/buffer.js"

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
