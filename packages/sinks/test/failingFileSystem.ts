// A real file system (Node's, through @effect/platform) that fails writes on demand, as a full disk does.
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** What is about to happen: a write-like operation on a path. */
export type Operation = "open" | "write" | "truncate" | "writeFile" | "rename" | "makeDirectory"

/**
 * Decides, at the moment of each operation, whether it fails with ENOSPC. A write to an open file also shows the
 * bytes it is about to write (a test may watch them and fail nothing).
 */
export type Failing = (operation: Operation, path: string, bytes?: Uint8Array) => boolean

export const noSpace = (method: string, path: string) =>
  new SystemError({
    reason: "Unknown",
    module: "FileSystem",
    method,
    pathOrDescriptor: path,
    syscall: method,
    description: "ENOSPC: no space left on device"
  })

const wrapFile = (file: FileSystem.File, path: string, failing: Failing): FileSystem.File =>
  new Proxy(file, {
    get(target, property) {
      if (property === "writeAll" || property === "write") {
        return (bytes: Uint8Array) =>
          Effect.suspend(() =>
            failing("write", path, bytes)
              ? Effect.fail(noSpace(String(property), path))
              : (target[property] as (bytes: Uint8Array) => Effect.Effect<unknown, unknown>)(bytes)
          )
      }
      if (property === "truncate") {
        return (length?: FileSystem.SizeInput) =>
          Effect.suspend(() =>
            failing("truncate", path) ? Effect.fail(noSpace("truncate", path)) : target.truncate(length)
          )
      }
      const value = Reflect.get(target, property, target)
      return typeof value === "function" ? value.bind(target) : value
    }
  })

/** Node's file system and path services, with writes failing whenever `failing` says so. */
export const layer = (failing: Failing) =>
  Layer.merge(
    Layer.effect(
      FileSystem.FileSystem,
      Effect.map(FileSystem.FileSystem, (fs): FileSystem.FileSystem => ({
        ...fs,
        open: (path, options) =>
          Effect.suspend(() =>
            failing("open", path) && options?.flag !== "r"
              ? Effect.fail(noSpace("open", path))
              : Effect.map(fs.open(path, options), (file) => wrapFile(file, path, failing))
          ),
        writeFile: (path, data, options) =>
          Effect.suspend(() =>
            failing("writeFile", path) ? Effect.fail(noSpace("writeFile", path)) : fs.writeFile(path, data, options)
          ),
        writeFileString: (path, data, options) =>
          Effect.suspend(() =>
            failing("writeFile", path)
              ? Effect.fail(noSpace("writeFile", path))
              : fs.writeFileString(path, data, options)
          ),
        rename: (from, to) =>
          Effect.suspend(() => failing("rename", to) ? Effect.fail(noSpace("rename", to)) : fs.rename(from, to)),
        makeDirectory: (path, options) =>
          Effect.suspend(() =>
            failing("makeDirectory", path)
              ? Effect.fail(noSpace("makeDirectory", path))
              : fs.makeDirectory(path, options)
          )
      }))
    ).pipe(Layer.provide(NodeFileSystem.layer)),
    NodePath.layer
  )

/**
 * Fails every write of the files whose path ends with `suffix` until `stop` is called; `failures` counts them. Its
 * `layer` is the FileSystem that does so.
 */
export const writesFailingUntilStopped = (suffix: string) => {
  let failing = true
  let failures = 0
  const fails: Failing = (operation, file) => {
    if (!failing || !file.endsWith(suffix) || operation !== "write") return false
    failures++
    return true
  }
  return { layer: layer(fails), stop: () => (failing = false), failures: () => failures }
}
