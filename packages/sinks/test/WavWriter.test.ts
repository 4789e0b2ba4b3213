import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as WavWriter from "../src/WavWriter.js"
import * as FailingFileSystem from "./failingFileSystem.js"
import { readWav } from "./helpers.js"

const filled = (n: number, value: number) => new Int16Array(n).fill(value)

describe("WavWriter", () => {
  it.scoped("writes at offsets, fills gaps with silence and patches the header on close", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/a.wav`
      yield* Effect.scoped(Effect.gen(function*() {
        const wav = yield* WavWriter.make(path)
        yield* wav.write(0, filled(4, 7))
        yield* wav.write(10, filled(2, -3)) // a gap of 6 samples
        yield* wav.write(4, filled(2, 5)) // into the gap
        assert.strictEqual(yield* wav.samples, 12)
      }))
      const wav = readWav(yield* fs.readFile(path))
      assert.strictEqual(wav.declared, 24)
      assert.strictEqual(wav.riff, 36 + 24)
      assert.strictEqual(wav.rate, 16_000)
      assert.deepStrictEqual(Array.from(wav.samples), [7, 7, 7, 7, 5, 5, 0, 0, 0, 0, -3, -3])
      assert.deepStrictEqual(Option.getOrThrow(WavWriter.parseHeader(WavWriter.header(24))), {
        channels: 1,
        sampleRate: 16_000,
        bitsPerSample: 16,
        dataBytes: 24
      })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("patches the header within the interval while open (TestClock)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/b.wav`
      const scope = yield* Scope.make()
      const wav = yield* WavWriter.make(path, { patchInterval: "1 second" }).pipe(Scope.extend(scope))
      yield* wav.write(0, filled(1600, 1))
      yield* wav.write(1600, filled(1600, 1))
      yield* Effect.yieldNow()
      assert.strictEqual(readWav(yield* fs.readFile(path)).declared, 0) // not yet declared
      yield* TestClock.adjust("1 second")
      // the patch runs on the writer's own fiber, with real file I/O: wait for it (bounded) on real time
      let declared = 0
      for (let i = 0; i < 200 && declared !== 6400; i++) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
        declared = readWav(yield* fs.readFile(path)).declared
      }
      assert.strictEqual(declared, 6400)
      yield* Scope.close(scope, Exit.void)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("continues an existing file at its end, trusting the size over a stale header", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/c.wav`
      // as a killed writer leaves it: 6 samples present, 2 declared, plus half a sample
      const stale = new Uint8Array([...WavWriter.header(4), ...new Uint8Array(13).fill(1)])
      yield* fs.writeFile(path, stale)
      yield* Effect.scoped(Effect.gen(function*() {
        const wav = yield* WavWriter.make(path)
        assert.strictEqual(yield* wav.samples, 6)
        yield* wav.write(6, filled(2, 9))
      }))
      const wav = readWav(yield* fs.readFile(path))
      assert.strictEqual(wav.declared, 16)
      assert.deepStrictEqual(Array.from(wav.samples.subarray(6)), [9, 9])
      yield* fs.writeFile(`${dir}/d.wav`, new TextEncoder().encode("not a wav file at all, but long enough to read"))
      const error = yield* Effect.flip(Effect.scoped(WavWriter.make(`${dir}/d.wav`)))
      assert.strictEqual(error.reason, "IncompatibleFile")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("starts again a file too short to hold a header (1 to 43 bytes, a kill right after it was created)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      for (const size of [1, 2, 20, 43]) {
        const path = `${dir}/short-${size}.wav`
        yield* fs.writeFile(path, new Uint8Array(size).fill(0x52))
        yield* Effect.scoped(Effect.gen(function*() {
          const wav = yield* WavWriter.make(path)
          assert.strictEqual(yield* wav.samples, 0, `${size} bytes hold no sample`)
          yield* wav.write(2, filled(2, 4))
        }))
        const wav = readWav(yield* fs.readFile(path))
        assert.strictEqual(wav.declared, 8, `${size} bytes`)
        assert.deepStrictEqual(Array.from(wav.samples), [0, 0, 4, 4], `${size} bytes`)
        assert.isTrue(Option.isSome(WavWriter.parseHeader(yield* fs.readFile(path))))
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("never declares bytes whose write or extension failed (a full disk)", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const path = `${dir}/full.wav`
      let full = false
      const failing: FailingFileSystem.Failing = (operation) =>
        full && (operation === "truncate" || operation === "write")
      yield* Effect.scoped(
        Effect.gen(function*() {
          const wav = yield* WavWriter.make(path, { patchInBackground: false })
          yield* wav.write(0, filled(10, 3))
          full = true
          const extended = yield* Effect.either(wav.extendTo(16_000))
          const written = yield* Effect.either(wav.write(10, filled(10, 5)))
          assert.isTrue(extended._tag === "Left" && extended.left.reason === "Io")
          assert.isTrue(written._tag === "Left" && written.left.reason === "Io")
          assert.strictEqual(yield* wav.samples, 10, "what failed is not counted")
          full = false
          yield* wav.flush
        }).pipe(Effect.provide(FailingFileSystem.layer(failing)))
      )
      const wav = readWav(yield* fs.readFile(path))
      assert.strictEqual(wav.declared, 20)
      assert.strictEqual(wav.samples.length, 10)
    }).pipe(Effect.provide(NodeContext.layer)))
})
