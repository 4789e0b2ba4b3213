/**
 * The `FileSystem` of the recorder thread: Node's, except that what the recorder does many times a second is
 * synchronous: writes to open files (tape appends, WAV runs and header patches), opening and closing files, whole-file
 * writes, renames, making folders, and asking whether a file exists. On the main thread a blocking call would hold
 * every socket up; on the recorder thread nothing else waits for it, and each call then costs its system call,
 * where an asynchronous one also costs a hop to libuv's thread pool and back (a lock, a wake-up of a pool thread
 * that takes the core from the recorder on a busy machine), and a fiber's suspension and resumption. Measured at
 * 1,000 recorded meetings on two cores, the part of an asynchronous `open` spent on the recorder thread itself was
 * 0.2 to 0.5 ms, about what creating the file costs the kernel. Reads stay asynchronous (the recorder reads at start
 * and, rarely, its settled transcript). A slow disk holds only the recorder up: the main thread stops sending it
 * events and applies the server's own policy.
 * With `serve --recorder-threads 0` the recorder runs on the main thread with these same calls (`recording.ts`,
 * `recordOnMainThread`): there a slow disk holds every socket up too, the price of that mode.
 *
 * Errors are the `SystemError`s Node's `FileSystem` gives for the same failures.
 *
 * @internal
 */
import { GatheredWrite } from "@callstream/sinks"
import * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as NFS from "node:fs"

const reasonOf = (code: unknown): PlatformError.SystemErrorReason => {
  switch (code) {
    case "ENOENT":
      return "NotFound"
    case "EACCES":
      return "PermissionDenied"
    case "EEXIST":
      return "AlreadyExists"
    case "EISDIR":
    case "ENOTDIR":
    case "ELOOP":
      return "BadResource"
    case "EBUSY":
      return "Busy"
    default:
      return "Unknown"
  }
}

const errorOf = (method: string, pathOrDescriptor: string | number, error: unknown): PlatformError.SystemError => {
  const e = error as NodeJS.ErrnoException
  return new PlatformError.SystemError({
    reason: reasonOf(e.code),
    module: "FileSystem",
    method,
    pathOrDescriptor,
    syscall: e.syscall,
    description: e.message,
    cause: error
  })
}

const attempt = <A>(
  method: string,
  pathOrDescriptor: string | number,
  run: () => A
): Effect.Effect<A, PlatformError.PlatformError> =>
  Effect.try({ try: run, catch: (error) => errorOf(method, pathOrDescriptor, error) })

// a lookup: "no" is an answer, not an error built and dropped (Node's `exists` makes a `SystemError` for every file
// that is not there, which a recorder asks about each WAV track it starts)
const exists = (path: string): Effect.Effect<boolean, PlatformError.PlatformError> =>
  Effect.suspend(() => {
    try {
      NFS.accessSync(path)
      return Effect.succeed(true)
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "ENOENT"
        ? Effect.succeed(false)
        : Effect.fail(errorOf("exists", path, error))
    }
  })

const typeOf = (stats: NFS.Stats): FileSystem.File.Type =>
  stats.isFile()
    ? "File"
    : stats.isDirectory()
    ? "Directory"
    : stats.isSymbolicLink()
    ? "SymbolicLink"
    : stats.isBlockDevice()
    ? "BlockDevice"
    : stats.isCharacterDevice()
    ? "CharacterDevice"
    : stats.isFIFO()
    ? "FIFO"
    : stats.isSocket()
    ? "Socket"
    : "Unknown"

const infoOf = (stats: NFS.Stats): FileSystem.File.Info => ({
  type: typeOf(stats),
  mtime: Option.some(stats.mtime),
  atime: Option.some(stats.atime),
  birthtime: Option.some(stats.birthtime),
  dev: stats.dev,
  rdev: Option.some(stats.rdev),
  ino: Option.some(stats.ino),
  mode: stats.mode,
  nlink: Option.some(stats.nlink),
  uid: Option.some(stats.uid),
  gid: Option.some(stats.gid),
  size: FileSystem.Size(stats.size),
  blksize: Option.some(FileSystem.Size(stats.blksize)),
  blocks: Option.some(stats.blocks)
})

/** An open file whose calls are synchronous, at its own position; it writes several buffers with one call. */
class SyncFile implements GatheredWrite.GatheringFile {
  readonly [FileSystem.FileTypeId]: FileSystem.FileTypeId = FileSystem.FileTypeId
  private position = 0

  constructor(readonly fd: FileSystem.File.Descriptor, private readonly append: boolean) {}

  get stat(): Effect.Effect<FileSystem.File.Info, PlatformError.PlatformError> {
    return attempt("stat", this.fd, () => infoOf(NFS.fstatSync(this.fd)))
  }

  get sync(): Effect.Effect<void, PlatformError.PlatformError> {
    return attempt("sync", this.fd, () => NFS.fsyncSync(this.fd))
  }

  seek(offset: FileSystem.SizeInput, from: FileSystem.SeekMode): Effect.Effect<void> {
    return Effect.sync(() => {
      const size = Number(offset)
      this.position = from === "start" ? size : this.position + size
    })
  }

  read(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError.PlatformError> {
    return attempt("read", this.fd, () => {
      const read = NFS.readSync(this.fd, buffer, 0, buffer.byteLength, this.position)
      this.position += read
      return FileSystem.Size(read)
    })
  }

  readAlloc(size: FileSystem.SizeInput): Effect.Effect<Option.Option<Uint8Array>, PlatformError.PlatformError> {
    return attempt("readAlloc", this.fd, () => {
      const buffer = Buffer.allocUnsafeSlow(Number(size))
      const read = NFS.readSync(this.fd, buffer, 0, buffer.byteLength, this.position)
      this.position += read
      return read === 0 ? Option.none() : Option.some(read === buffer.byteLength ? buffer : buffer.subarray(0, read))
    })
  }

  truncate(length?: FileSystem.SizeInput): Effect.Effect<void, PlatformError.PlatformError> {
    return attempt("truncate", this.fd, () => {
      const size = length === undefined ? 0 : Number(length)
      NFS.ftruncateSync(this.fd, size)
      if (!this.append) this.position = Math.min(this.position, size)
    })
  }

  write(buffer: Uint8Array): Effect.Effect<FileSystem.Size, PlatformError.PlatformError> {
    return attempt("write", this.fd, () => FileSystem.Size(this.writeOnce(buffer)))
  }

  writeAll(buffer: Uint8Array): Effect.Effect<void, PlatformError.PlatformError> {
    return attempt("writeAll", this.fd, () => {
      let done = 0
      while (done < buffer.byteLength) {
        const written = this.writeOnce(buffer.subarray(done))
        if (written === 0) {
          throw Object.assign(new Error("write returned 0 bytes written"), { code: "WriteZero", syscall: "write" })
        }
        done += written
      }
    })
  }

  readonly [GatheredWrite.TypeId] = (buffers: ReadonlyArray<Uint8Array>) =>
    attempt("writeAll", this.fd, () => {
      let left = buffers
      while (left.length > 0) {
        const written = NFS.writevSync(this.fd, left as Array<Uint8Array>, this.append ? undefined : this.position)
        if (written === 0) {
          throw Object.assign(new Error("write returned 0 bytes written"), { code: "WriteZero", syscall: "writev" })
        }
        if (!this.append) this.position += written
        left = rest(left, written)
      }
    })

  private writeOnce(buffer: Uint8Array): number {
    const written = NFS.writeSync(this.fd, buffer, 0, buffer.byteLength, this.append ? null : this.position)
    if (!this.append) this.position += written
    return written
  }
}

// what a gathered write cut short after `written` bytes still has to write
const rest = (buffers: ReadonlyArray<Uint8Array>, written: number): ReadonlyArray<Uint8Array> => {
  let skip = written
  let i = 0
  while (i < buffers.length && skip >= buffers[i]!.byteLength) skip -= buffers[i++]!.byteLength
  if (i === buffers.length) return []
  const left = buffers.slice(i)
  left[0] = left[0]!.subarray(skip)
  return left
}

const open = (
  path: string,
  options?: FileSystem.OpenFileOptions
): Effect.Effect<FileSystem.File, PlatformError.PlatformError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      attempt("open", path, () => FileSystem.FileDescriptor(NFS.openSync(path, options?.flag ?? "r", options?.mode))),
      (fd) => Effect.orDie(attempt("open", fd, () => NFS.closeSync(fd)))
    ),
    (fd) => new SyncFile(fd, options?.flag?.startsWith("a") ?? false)
  )

// bytes or a string (`writeFile` and `writeFileString`, whose options are the same: Node writes a string as UTF-8,
// as the interface asks)
const writeFile = (
  path: string,
  data: Uint8Array | string,
  options?: FileSystem.WriteFileOptions
): Effect.Effect<void, PlatformError.PlatformError> =>
  attempt("writeFile", path, () => NFS.writeFileSync(path, data, { flag: options?.flag, mode: options?.mode }))

const rename = (from: string, to: string): Effect.Effect<void, PlatformError.PlatformError> =>
  attempt("rename", from, () => NFS.renameSync(from, to))

const makeDirectory = (
  path: string,
  options?: FileSystem.MakeDirectoryOptions
): Effect.Effect<void, PlatformError.PlatformError> =>
  attempt("makeDirectory", path, () => {
    NFS.mkdirSync(path, { recursive: options?.recursive, mode: options?.mode })
  })

/**
 * Node's `FileSystem` (from the context), with the calls above synchronous.
 *
 * @internal
 */
export const layer: Layer.Layer<FileSystem.FileSystem, never, FileSystem.FileSystem> = Layer.effect(
  FileSystem.FileSystem,
  Effect.map(FileSystem.FileSystem, (node): FileSystem.FileSystem => ({
    ...node,
    exists,
    open,
    writeFile,
    writeFileString: writeFile,
    rename,
    makeDirectory
  }))
)
