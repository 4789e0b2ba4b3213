// The recorder thread's FileSystem: open files that read and write synchronously, as Node's FileSystem would.
import { GatheredWrite } from "@callstream/sinks"
import { NodeContext } from "@effect/platform-node"
import * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as SyncFiles from "../src/internal/syncFiles.js"

const layer = Layer.provideMerge(SyncFiles.layer, NodeContext.layer)
const tempFile = (content: string) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "callstream-sync-")), "file")
  fs.writeFileSync(file, content)
  return file
}

describe("SyncFiles", () => {
  it.effect("writes at the position a seek set, appends with flag a, reads and truncates as Node's files do", () =>
    Effect.gen(function*() {
      const files = yield* FileSystem.FileSystem
      const file = tempFile("hello world")
      yield* Effect.scoped(Effect.gen(function*() {
        const handle = yield* files.open(file, { flag: "r+" })
        yield* handle.seek(6, "start")
        yield* handle.writeAll(new TextEncoder().encode("there"))
        yield* handle.writeAll(new TextEncoder().encode("!"))
        yield* handle.seek(0, "start")
        const start = yield* handle.readAlloc(5)
        assert.strictEqual(new TextDecoder().decode(Option.getOrThrow(start)), "hello")
        yield* handle.truncate(5)
        assert.isTrue(Option.isNone(yield* handle.readAlloc(5)), "nothing past the end")
      }))
      assert.strictEqual(fs.readFileSync(file, "utf8"), "hello")
      yield* Effect.scoped(Effect.gen(function*() {
        const handle = yield* files.open(file, { flag: "a" })
        yield* handle.writeAll(new TextEncoder().encode(", again"))
      }))
      assert.strictEqual(fs.readFileSync(file, "utf8"), "hello, again")
    }).pipe(Effect.provide(layer)))

  it.effect("writes several buffers with one gathered call, at the position and in append mode, as writeAll each would", () =>
    Effect.gen(function*() {
      const files = yield* FileSystem.FileSystem
      const node = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      // three blocks of 16 KiB and a tail, as a recorder's flush hands them over
      const buffers = [0, 1, 2, 3].map((i) => new Uint8Array(i === 3 ? 100 : 16 * 1024).fill(97 + i))
      const write = (on: FileSystem.FileSystem, flag: "r+" | "a") => {
        const file = tempFile("0123456789")
        return Effect.scoped(Effect.gen(function*() {
          const handle = yield* on.open(file, { flag })
          yield* handle.seek(4, "start")
          yield* GatheredWrite.writeAll(handle, buffers)
          yield* GatheredWrite.writeAll(handle, [new Uint8Array([33]), new Uint8Array([10])])
          return fs.readFileSync(file)
        }))
      }
      const handle = yield* Effect.scoped(
        Effect.map(files.open(tempFile(""), { flag: "r+" }), GatheredWrite.isGathering)
      )
      assert.isTrue(handle, "the recorder thread's files gather")
      for (const flag of ["r+", "a"] as const) {
        const expected = yield* write(node, flag)
        assert.strictEqual(expected.byteLength, (flag === "a" ? 10 : 4) + 3 * 16 * 1024 + 102)
        assert.isTrue(Buffer.compare(yield* write(files, flag), expected) === 0, `flag ${flag}`)
      }
    }).pipe(Effect.provide(layer)))

  it.effect("a write that fails is a SystemError naming the method, as with Node's FileSystem", () =>
    Effect.gen(function*() {
      const files = yield* FileSystem.FileSystem
      const file = tempFile("read only")
      const error = yield* Effect.scoped(
        Effect.flatMap(files.open(file, { flag: "r" }), (handle) => handle.writeAll(new Uint8Array([1, 2, 3])))
      ).pipe(Effect.flip)
      assert.instanceOf(error, PlatformError.SystemError)
      assert.strictEqual(error.method, "writeAll")
      assert.strictEqual(fs.readFileSync(file, "utf8"), "read only")
    }).pipe(Effect.provide(layer)))

  it.effect("exists answers as Node's FileSystem does: true, false when not there, an error when it cannot tell", () =>
    Effect.gen(function*() {
      const file = tempFile("here")
      const paths = [file, path.join(path.dirname(file), "missing"), path.join(file, "inside-a-file")]
      const node = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      const sync = yield* FileSystem.FileSystem
      const answers = (files: FileSystem.FileSystem) =>
        Effect.forEach(paths, (p) =>
          files.exists(p).pipe(
            Effect.map(String),
            Effect.catchAll((error) =>
              Effect.succeed(error._tag === "SystemError" ? `SystemError ${error.reason}` : error._tag)
            )
          ))
      const expected = yield* answers(node)
      assert.deepStrictEqual(expected, ["true", "false", "SystemError BadResource"])
      assert.deepStrictEqual(yield* answers(sync), expected)
    }).pipe(Effect.provide(layer)))

  it.effect("whole-file writes, renames, folders and opens succeed and fail as with Node's FileSystem", () =>
    Effect.gen(function*() {
      const node = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
      const sync = yield* FileSystem.FileSystem
      const text = new TextEncoder()
      // the same steps against each FileSystem, in a folder of its own: what each step gave
      const run = (files: FileSystem.FileSystem) =>
        Effect.gen(function*() {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "callstream-sync-"))
          const at = (name: string) => path.join(dir, name)
          const outcome = <A>(effect: Effect.Effect<A, PlatformError.PlatformError, Scope.Scope>) =>
            Effect.scoped(effect).pipe(
              Effect.map((value) => value === undefined ? "ok" : String(value)),
              Effect.catchAll((error) =>
                Effect.succeed(
                  error._tag === "SystemError" ? `${error.method} ${error.reason}` : `${error.method} ${error._tag}`
                )
              )
            )
          const steps = [
            yield* outcome(files.writeFileString(at("a.json.partial"), "{\"a\":1}")),
            yield* outcome(files.rename(at("a.json.partial"), at("a.json"))),
            yield* outcome(files.writeFile(at("log"), text.encode("one\n"), { flag: "a" })),
            yield* outcome(files.writeFile(at("log"), text.encode("two\n"), { flag: "a" })),
            // (Node's gives back the first folder it made, which the interface does not promise)
            yield* outcome(Effect.asVoid(files.makeDirectory(at("x/y/z"), { recursive: true }))),
            yield* outcome(files.makeDirectory(at("x"))),
            yield* outcome(files.makeDirectory(at("missing/inner"))),
            yield* outcome(files.writeFileString(at("missing/file"), "no folder")),
            yield* outcome(files.rename(at("nothing"), at("something"))),
            yield* outcome(files.open(at("log"), { flag: "wx" })),
            yield* outcome(Effect.flatMap(files.open(at("new"), { flag: "wx+" }), (file) =>
              Effect.zipRight(
                file.writeAll(text.encode("fresh")),
                Effect.map(file.stat, (info) => `${info.type} ${info.size}`)
              )))
          ]
          const contents = ["a.json", "log", "new"].map((name) => fs.readFileSync(at(name), "utf8"))
          return { steps, contents, folders: fs.existsSync(at("x/y/z")) }
        })
      const expected = yield* run(node)
      assert.deepStrictEqual(expected.steps.slice(5), [
        "makeDirectory AlreadyExists",
        "makeDirectory NotFound",
        "writeFile NotFound",
        "rename NotFound",
        "open AlreadyExists",
        "File 5"
      ])
      assert.deepStrictEqual(expected.contents, ["{\"a\":1}", "one\ntwo\n", "fresh"])
      assert.deepStrictEqual(yield* run(sync), expected)
    }).pipe(Effect.provide(layer)))
})
