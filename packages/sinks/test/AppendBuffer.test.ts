// The buffer behind the tape, the control log and H.264 streams: appends are collected in blocks from the process's
// pool and written with one call per flush, while more is appended.
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as GatheredWrite from "../src/GatheredWrite.js"
import { AppendBuffer } from "../src/internal/appendBuffer.js"
import * as BlockPool from "../src/internal/blockPool.js"

const text = (char: string, kilobytes: number) => char.repeat(kilobytes * 1024)

/** An empty file in a temporary folder (both gone with the scope), open for writing. */
const emptyFile = Effect.gen(function*() {
  const files = yield* FileSystem.FileSystem
  const dir = yield* files.makeTempDirectoryScoped()
  const target = path.join(dir, "tape")
  yield* files.writeFile(target, new Uint8Array(0))
  return { target, file: yield* files.open(target, { flag: "r+" }) }
})

/**
 * `real` with its `writeAll` replaced (to count writes, or fail them with any error) and `extra` members added; it
 * seeks as `real` does.
 */
const withWrites = <F extends FileSystem.File = FileSystem.File>(
  real: FileSystem.File,
  writeAll: (bytes: Uint8Array) => Effect.Effect<void, unknown>,
  extra: object = {}
): F => ({ ...real, seek: real.seek.bind(real), writeAll, ...extra }) as unknown as F

describe("AppendBuffer", () => {
  it.scoped("a view taken for a flush keeps its bytes while more is appended, however the buffer makes room", () =>
    Effect.gen(function*() {
      const { file, target } = yield* emptyFile
      const buffer = new AppendBuffer(0)

      // a flush takes "a"; "b" comes while it is written: "b" waits behind the written bytes
      buffer.append(text("a", 6), 1)
      const first = buffer.take()
      buffer.append(text("b", 4), 1)
      yield* buffer.write(file, first)
      // the next flush takes "b"; then "c" comes, more than fits behind it, before that flush writes
      const second = buffer.take()
      buffer.append(text("c", 7), 1)
      yield* buffer.write(file, second)
      yield* buffer.write(file, buffer.take())

      assert.strictEqual(fs.readFileSync(target, "utf8"), text("a", 6) + text("b", 4) + text("c", 7))
      assert.strictEqual(buffer.committed, 17 * 1024)
      assert.strictEqual(buffer.committedItems, 3)
      assert.strictEqual(buffer.pending, 0)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a write that fails is written again over its own prefix, from where the file was known to end", () =>
    Effect.gen(function*() {
      const { file: real, target } = yield* emptyFile
      // writes half of what it is given, then fails, once
      let failures = 1
      const file = withWrites(real, (bytes) =>
        failures-- > 0
          ? Effect.zipRight(real.writeAll(bytes.subarray(0, bytes.length >> 1)), Effect.fail(new Error("ENOSPC")))
          : real.writeAll(bytes))
      const buffer = new AppendBuffer(0)
      buffer.append("line 1\n", 1)
      yield* buffer.write(real, buffer.take())
      buffer.append("line 2\n", 1)
      const failed = yield* Effect.either(buffer.write(file, buffer.take()))
      assert.isTrue(failed._tag === "Left")
      buffer.append("line 3\n", 1)
      yield* buffer.write(file, buffer.take())
      assert.strictEqual(fs.readFileSync(target, "utf8"), "line 1\nline 2\nline 3\n")
      assert.strictEqual(buffer.committedItems, 3)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("holds what waits in blocks, even after a late flush, and gives every block back once written", () =>
    Effect.gen(function*() {
      const { file, target } = yield* emptyFile
      const before = BlockPool.usage().inUse
      const buffer = new AppendBuffer(0)
      let expected = ""
      const append = (part: string) => {
        buffer.append(part, 1)
        expected += part
      }

      // a flush that is late: 600 KB come while its view is out
      append(text("a", 300))
      const late = buffer.take()
      append(text("b", 300))
      assert.isAtLeast(buffer.capacity, 600 * 1024)
      yield* buffer.write(file, late)
      // then flushes keep up: 30 KB before each, and a little while each is written, so something always waits
      for (let i = 0; i < 100; i++) {
        for (let j = 0; j < 3; j++) append(text(String.fromCharCode(99 + ((i + j) % 20)), 10))
        const view = buffer.take()
        append(String.fromCharCode(99 + (i % 20)).repeat(100))
        yield* buffer.write(file, view)
        // what waits (100 bytes) in the block it was appended to, or in two when it crossed into the next
        assert.isAtMost(buffer.capacity, 2 * BlockPool.BLOCK_BYTES, `flush ${i}`)
      }
      yield* buffer.write(file, buffer.take())

      assert.strictEqual(buffer.capacity, 0)
      assert.strictEqual(BlockPool.usage().inUse, before)
      assert.strictEqual(fs.readFileSync(target, "utf8"), expected)
      assert.strictEqual(buffer.committedItems, 402)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("text of any script survives characters that straddle two blocks", () =>
    Effect.gen(function*() {
      const { file, target } = yield* emptyFile
      const buffer = new AppendBuffer(0)
      // two, three and four bytes a character, in lengths that end blocks in the middle of one
      const parts = ["é", "€", "😀", "a"].flatMap((char) => [1, 7, 4095, 5461, 8191].map((n) => char.repeat(n)))
      for (const part of parts) buffer.append(part, 1)
      yield* buffer.write(file, buffer.take())
      assert.strictEqual(fs.readFileSync(target, "utf8"), parts.join(""))
      assert.strictEqual(buffer.committed, Buffer.byteLength(parts.join("")))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a file that gathers gets every block of a flush in one call", () =>
    Effect.gen(function*() {
      const { file: real, target } = yield* emptyFile
      const calls: Array<number> = []
      const file = withWrites<GatheredWrite.GatheringFile>(real, (bytes) => real.writeAll(bytes), {
        [GatheredWrite.TypeId]: (buffers: ReadonlyArray<Uint8Array>) => {
          calls.push(buffers.length)
          return Effect.forEach(buffers, (bytes) => real.writeAll(bytes), { discard: true })
        }
      })
      const buffer = new AppendBuffer(0)
      buffer.append(text("x", 40), 1)
      yield* buffer.write(file, buffer.take())
      assert.deepStrictEqual(calls, [3])
      assert.strictEqual(fs.readFileSync(target, "utf8"), text("x", 40))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("any other file gets a flush's blocks in one write, so it never ends mid-line between two", () =>
    Effect.gen(function*() {
      const { file: real, target } = yield* emptyFile
      const writes: Array<string> = []
      const file = withWrites(real, (bytes) => {
        writes.push(Buffer.from(bytes).toString("utf8"))
        return real.writeAll(bytes)
      })
      const buffer = new AppendBuffer(0)
      const lines = Array.from({ length: 10 }, (_, i) => `${String(i).repeat(4000)}\n`)
      for (const line of lines) buffer.append(line, 1)
      yield* buffer.write(file, buffer.take())
      assert.deepStrictEqual(writes, [lines.join("")])
      assert.strictEqual(fs.readFileSync(target, "utf8"), lines.join(""))
    }).pipe(Effect.provide(NodeContext.layer)))
})
