/**
 * The `FileSystem` of the recorder thread: Node's, except that the writes to open files (what the recorder does
 * many times a second: tape appends, WAV runs and header patches) are synchronous. On the main thread a blocking
 * write would hold every socket up; on the recorder thread nothing else waits for it, and each write then costs one
 * system call, where an asynchronous one also costs a hop to libuv's thread pool and back, a semaphore, and a
 * fiber's suspension and resumption (at 500 sessions, about 1,500 writes a second). Whether a file exists is asked
 * synchronously as well (a lookup, with no error built when it is not there). Opening, creating and renaming
 * files stay asynchronous: creating a file is the slow part of a derived file's refresh (about a millisecond on
 * the benchmark machine's ext4), and on the thread pool it overlaps the recorder's own work. A slow disk holds only
 * the recorder up: the main thread stops sending it events and applies the server's own policy.
 *
 * Errors are the `SystemError`s Node's `FileSystem` gives for the same failures.
 *
 * @internal
 */
import * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
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

/** An open file whose reads and writes are synchronous, at its own position (`stat` and `sync` are Node's). */
class SyncFile implements FileSystem.File {
  readonly [FileSystem.FileTypeId]: FileSystem.FileTypeId = FileSystem.FileTypeId
  readonly fd: FileSystem.File.Descriptor
  private position = 0

  constructor(private readonly file: FileSystem.File, private readonly append: boolean) {
    this.fd = file.fd
  }

  get stat() {
    return this.file.stat
  }

  get sync() {
    return this.file.sync
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

  private writeOnce(buffer: Uint8Array): number {
    const written = NFS.writeSync(this.fd, buffer, 0, buffer.byteLength, this.append ? null : this.position)
    if (!this.append) this.position += written
    return written
  }
}

/**
 * Node's `FileSystem` (from the context), whose open files read and write synchronously.
 *
 * @internal
 */
export const layer: Layer.Layer<FileSystem.FileSystem, never, FileSystem.FileSystem> = Layer.effect(
  FileSystem.FileSystem,
  Effect.map(FileSystem.FileSystem, (node): FileSystem.FileSystem => ({
    ...node,
    exists,
    open: (path, options) =>
      Effect.map(node.open(path, options), (file) => new SyncFile(file, options?.flag?.startsWith("a") ?? false))
  }))
)
