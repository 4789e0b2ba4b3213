/**
 * Writes video frames under a folder: each PNG frame to `participant-<id>/<webcam|screenshare>/<ms>.png`, named
 * by its meeting time in milliseconds, after checking that it is a PNG (signature and IHDR, size read from the
 * header); each H.264 payload appended to `participant-<id>/<webcam|screenshare>.h264`, one file handle per
 * stream kept open for the life of the scope.
 *
 * A frame that cannot be used fails its own write with a {@link FrameError} and leaves the writer working.
 * {@link frameOf} does the checking and naming without any I/O, for writers that collect frames and write them in
 * batches (the session recorder writes a tick's frames together and appends each H.264 stream once per tick).
 *
 * @example
 * ```ts
 * import { FrameWriter } from "@callstream/sinks"
 * import type { RecallEvent } from "@callstream/core"
 * import { Effect } from "effect"
 *
 * const saveAll = (frames: ReadonlyArray<RecallEvent.VideoEvent>) =>
 *   Effect.scoped(
 *     Effect.gen(function*() {
 *       const writer = yield* FrameWriter.make("out/video")
 *       for (const frame of frames) yield* Effect.either(writer.write(frame))
 *     })
 *   )
 * ```
 *
 * @since 0.1.0
 */
import { type RecallEvent, SessionKey, Video } from "@callstream/core"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Scope from "effect/Scope"
import { safeName } from "./internal/files.js"

/**
 * A frame that could not be written: its buffer is not a PNG or not base64 (`BadFrame`), or the file system
 * failed (`Io`).
 *
 * @since 0.1.0
 * @category errors
 */
export class FrameError extends Data.TaggedError("FrameError")<{
  readonly reason: "BadFrame" | "Io"
  readonly path: string
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `${this.reason} for ${this.path}: ${cause}`
  }
}

/**
 * What was written for one frame.
 *
 * @since 0.1.0
 * @category models
 */
export interface Written {
  readonly path: string
  readonly bytes: number
  /** The PNG's size; none for H.264. */
  readonly size?: Video.Size | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface FrameWriter {
  readonly write: (event: RecallEvent.VideoEvent) => Effect.Effect<Written, FrameError>
}

/**
 * The folder of one participant's stream, relative to the writer's folder.
 *
 * @since 0.1.0
 * @category accessors
 */
export const folderOf = (event: RecallEvent.VideoEvent): ReadonlyArray<string> => [
  `participant-${safeName(SessionKey.participantKey(event.data.data.participant))}`,
  event.data.data.type
]

/**
 * A frame ready to be written: where (relative to the writer's folder, as path segments) and what. A PNG becomes a
 * file of its own; H.264 bytes are appended to their stream's file.
 *
 * @since 0.2.0
 * @category models
 */
export type Frame =
  | {
    readonly _tag: "Png"
    readonly folder: ReadonlyArray<string>
    readonly file: string
    readonly bytes: Uint8Array
    readonly size: Video.Size
  }
  | {
    readonly _tag: "H264"
    readonly folder: ReadonlyArray<string>
    readonly file: string
    readonly bytes: Uint8Array
  }

/**
 * Checks and names one frame, with no I/O: a PNG must be base64 of a PNG (its size read from its header) and is
 * named by its meeting time in ms; H.264 is kept opaque and goes to its stream's file. The error's `path` is
 * relative to the writer's folder.
 *
 * @since 0.2.0
 * @category constructors
 */
export const frameOf = (event: RecallEvent.VideoEvent): Either.Either<Frame, FrameError> => {
  const [participant, type] = folderOf(event)
  if (event.event === "video_separate_png.data") {
    const folder = [participant!, type!]
    const file = `${Math.round(event.data.data.timestamp.relative * 1000)}.png`
    const png = Video.png(event)
    if (Either.isLeft(png)) {
      return Either.left(new FrameError({ reason: "BadFrame", path: [...folder, file].join("/"), cause: png.left }))
    }
    return Either.right({ _tag: "Png", folder, file, bytes: png.right.bytes, size: png.right.size })
  }
  const folder = [participant!]
  const file = `${type}.h264`
  const bytes = Video.bytes(event)
  if (Either.isLeft(bytes)) {
    return Either.left(new FrameError({ reason: "BadFrame", path: [...folder, file].join("/"), cause: bytes.left }))
  }
  return Either.right({ _tag: "H264", folder, file, bytes: bytes.right })
}

/**
 * A writer of frames under `directory`, for the life of the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  directory: string
): Effect.Effect<FrameWriter, never, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const scope = yield* Effect.scope
    const made = new Set<string>()
    const streams = new Map<string, FileSystem.File>()
    const lock = yield* Effect.makeSemaphore(1)

    const ensureDirectory = (dir: string) =>
      made.has(dir) ? Effect.void : fs.makeDirectory(dir, { recursive: true }).pipe(
        Effect.tap(() => Effect.sync(() => made.add(dir)))
      )

    const writePng = (frame: Extract<Frame, { readonly _tag: "Png" }>) => {
      const dir = path.join(directory, ...frame.folder)
      const file = path.join(dir, frame.file)
      return ensureDirectory(dir).pipe(
        Effect.zipRight(fs.writeFile(file, frame.bytes)),
        Effect.mapError((cause) => new FrameError({ reason: "Io", path: file, cause })),
        Effect.as<Written>({ path: file, bytes: frame.bytes.byteLength, size: frame.size })
      )
    }

    const appendH264 = (frame: Extract<Frame, { readonly _tag: "H264" }>) => {
      const dir = path.join(directory, ...frame.folder)
      const file = path.join(dir, frame.file)
      return lock.withPermits(1)(Effect.gen(function*() {
        let handle = streams.get(file)
        if (handle === undefined) {
          yield* ensureDirectory(dir)
          handle = yield* fs.open(file, { flag: "a" }).pipe(Scope.extend(scope))
          streams.set(file, handle)
        }
        yield* handle.writeAll(frame.bytes)
      })).pipe(
        Effect.mapError((cause) => new FrameError({ reason: "Io", path: file, cause })),
        Effect.as<Written>({ path: file, bytes: frame.bytes.byteLength })
      )
    }

    return {
      write: (event) =>
        Either.match(frameOf(event), {
          onLeft: (error) =>
            Effect.fail(
              new FrameError({ reason: error.reason, path: path.join(directory, error.path), cause: error.cause })
            ),
          onRight: (frame) => frame._tag === "Png" ? writePng(frame) : appendH264(frame)
        })
    }
  })
