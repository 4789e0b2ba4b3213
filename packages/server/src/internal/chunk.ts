import * as Chunk from "effect/Chunk"
import * as Equal from "effect/Equal"

/**
 * Chunks for the hot path that V8 allocates in the young generation.
 *
 * `Chunk.unsafeFromArray` wraps its array in an object literal. V8 learns per literal in the code whether what it
 * makes tends to live long, and Effect makes many long-lived chunks at that same place, so V8 often ends up
 * allocating every chunk's wrapper straight in the old generation. A wrapper there outlives its chunk until the
 * next full collection, and until then every young collection treats what it points to as alive: the array, and
 * every frame's text and parsed form in it, are copied and promoted instead of being freed. Measured on a flow of
 * recorded frames, that doubled the CPU per frame of a reader of the event Stream.
 *
 * {@link fromArray} builds the same chunk with a wrapper made by a class constructor, which V8 allocates young
 * like everything else. It depends on how this version of Effect lays out a chunk, so it checks once that what it
 * builds behaves as `Chunk.unsafeFromArray`'s chunk does, and uses `Chunk.unsafeFromArray` otherwise.
 */

/** The wrapper of an array-backed chunk, as Effect's own. */
class ArrayBacking<A> {
  readonly _tag = "IArray"
  constructor(readonly array: ReadonlyArray<A>) {}
}

const empty = Chunk.empty<never>()

const layout = Chunk.unsafeFromArray([0, 1]) as unknown as Record<string, unknown>

const build = <A>(array: ReadonlyArray<A>): Chunk.Chunk<A> => {
  const chunk = Object.create(Object.getPrototypeOf(layout))
  chunk.backing = new ArrayBacking(array)
  chunk.length = array.length
  chunk.depth = 0
  chunk.left = empty
  chunk.right = empty
  return chunk
}

/** Whether a chunk built here is one Effect's functions read as `Chunk.unsafeFromArray`'s own. */
const behaves = (): boolean => {
  try {
    const array = ["a", "b", "c"]
    const built = build(array)
    const reference = Chunk.unsafeFromArray(array)
    const keys = (o: object) => Object.keys(o).sort().join()
    return Chunk.isChunk(built) &&
      keys(built) === keys(reference) &&
      Equal.equals(built, reference) &&
      Chunk.toReadonlyArray(built) === array &&
      Chunk.unsafeGet(built, 2) === "c" &&
      Chunk.toReadonlyArray(Chunk.appendAll(built, Chunk.of("d"))).join() === "a,b,c,d" &&
      Chunk.toReadonlyArray(Chunk.drop(built, 1)).join() === "b,c" &&
      Chunk.toReadonlyArray(Chunk.map(built, (s) => s.toUpperCase())).join() === "A,B,C"
  } catch {
    return false
  }
}

const safe = behaves()

/** The items of `array` as a Chunk (the array is not copied: it must not change afterwards). */
export const fromArray = <A>(array: ReadonlyArray<A>): Chunk.Chunk<A> =>
  !safe || array.length === 0 ? Chunk.unsafeFromArray(array) : build(array)
