import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import * as Hash from "effect/Hash"
import { fromArray } from "../src/internal/chunk.js"

describe("the hot path's chunks", () => {
  it("are built by the server on this version of Effect, not by Chunk.unsafeFromArray", () => {
    // an Effect whose chunks are laid out differently would make `fromArray` fall back without a word
    const backing = (chunk: Chunk.Chunk<number>) =>
      Object.getPrototypeOf((chunk as unknown as { backing: object }).backing)
    assert.notStrictEqual(backing(fromArray([1, 2, 3])), backing(Chunk.unsafeFromArray([1, 2, 3])))
  })

  it("read as Effect's own chunk of the same array, whatever is done with them", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(FastCheck.integer(), { maxLength: 20 }),
        FastCheck.array(FastCheck.integer(), { maxLength: 5 }),
        FastCheck.nat(25),
        (items, more, n) => {
          const ours = fromArray(items)
          const theirs = Chunk.unsafeFromArray(items)
          assert.isTrue(Chunk.isChunk(ours))
          assert.isTrue(Equal.equals(ours, theirs))
          assert.strictEqual(Hash.hash(ours), Hash.hash(theirs))
          assert.deepStrictEqual(Chunk.toReadonlyArray(ours), items)
          assert.strictEqual(Chunk.size(ours), items.length)
          assert.deepStrictEqual([...ours], items)
          const same = <A>(f: (chunk: Chunk.Chunk<number>) => A) => assert.deepStrictEqual(f(ours), f(theirs))
          same((c) => Chunk.toReadonlyArray(Chunk.appendAll(c, Chunk.unsafeFromArray(more))))
          same((c) => Chunk.toReadonlyArray(Chunk.prependAll(c, Chunk.unsafeFromArray(more))))
          same((c) => Chunk.toReadonlyArray(Chunk.drop(c, n)))
          same((c) => Chunk.toReadonlyArray(Chunk.take(c, n)))
          same((c) => Chunk.toReadonlyArray(Chunk.map(c, (x) => x * 2)))
          same((c) => Chunk.toReadonlyArray(Chunk.filter(c, (x) => x % 2 === 0)))
          same((c) => Chunk.toReadonlyArray(Chunk.reverse(c)))
          same((c) => Chunk.get(c, n))
          same((c) => Chunk.head(c))
          same((c) => Chunk.last(c))
          same((c) => Chunk.isEmpty(c))
          same((c) => Chunk.reduce(c, 0, (a, x) => a * 31 + x))
          same((c) => Chunk.toReadonlyArray(Chunk.splitAt(c, n)[1]))
          same((c) => JSON.stringify(c))
        }
      )
    )
  })
})
