// The buffer behind the tape, the control log and H.264 streams: appends are collected in one growing buffer and
// written with one call per flush, while more is appended.
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { AppendBuffer } from "../src/internal/appendBuffer.js"

const text = (char: string, kilobytes: number) => char.repeat(kilobytes * 1024)

/** An empty file in a temporary folder (both gone with the scope), open for writing. */
const emptyFile = Effect.gen(function*() {
  const files = yield* FileSystem.FileSystem
  const dir = yield* files.makeTempDirectoryScoped()
  const target = path.join(dir, "tape")
  yield* files.writeFile(target, new Uint8Array(0))
  return { target, file: yield* files.open(target, { flag: "r+" }) }
})

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
      const file: FileSystem.File = {
        ...real,
        seek: (offset, from) => real.seek(offset, from),
        writeAll: (bytes) =>
          failures-- > 0
            ? Effect.zipRight(real.writeAll(bytes.subarray(0, bytes.length >> 1)), Effect.fail(new Error("ENOSPC")))
            : real.writeAll(bytes)
      } as FileSystem.File
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

  it.scoped("a buffer that grew while a flush was late shrinks back once the flushes keep up, nothing lost", () =>
    Effect.gen(function*() {
      const { file, target } = yield* emptyFile
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
      const grown = buffer.capacity
      assert.isAtLeast(grown, 600 * 1024)
      yield* buffer.write(file, late)
      // then flushes keep up: 30 KB before each, and a little while each is written, so something always waits
      for (let i = 0; i < 100; i++) {
        for (let j = 0; j < 3; j++) append(text(String.fromCharCode(99 + ((i + j) % 20)), 10))
        const view = buffer.take()
        append(String.fromCharCode(99 + (i % 20)).repeat(100))
        yield* buffer.write(file, view)
      }
      const kept = buffer.capacity
      yield* buffer.write(file, buffer.take())

      assert.isAtMost(kept, 128 * 1024, `grew to ${grown} bytes, holds ${kept}`)
      assert.strictEqual(fs.readFileSync(target, "utf8"), expected)
      assert.strictEqual(buffer.committedItems, 402)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a buffer that a steady stream fills every flush keeps its size between flushes", () =>
    Effect.gen(function*() {
      const { file, target } = yield* emptyFile
      const buffer = new AppendBuffer(0)
      // 300 KB a flush (a video stream), everything written each time
      for (let i = 0; i < 5; i++) {
        buffer.append(text(String.fromCharCode(97 + i), 300), 1)
        yield* buffer.write(file, buffer.take())
        assert.isAtLeast(buffer.capacity, 300 * 1024, `flush ${i}: the buffer was given up`)
      }
      assert.strictEqual(fs.statSync(target).size, 5 * 300 * 1024)
    }).pipe(Effect.provide(NodeContext.layer)))
})
