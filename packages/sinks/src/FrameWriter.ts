/**
 * Writes video frames under a folder: each PNG frame to `participant-<id>/<webcam|screenshare>/<ms>.png`, named
 * by its meeting time in milliseconds, after checking that it is a PNG (signature and IHDR, size read from the
 * header); each H.264 payload appended to `participant-<id>/<webcam|screenshare>.h264`, one file handle per
 * stream kept open for the life of the scope.
 *
 * A frame that cannot be used fails its own write with a {@link FrameError} and leaves the writer working.
 *
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

    const writePng = (event: RecallEvent.VideoSeparatePng) => {
      const [participant, type] = folderOf(event)
      const dir = path.join(directory, participant!, type!)
      const file = path.join(dir, `${Math.round(event.data.data.timestamp.relative * 1000)}.png`)
      const png = Video.png(event)
      if (Either.isLeft(png)) return Effect.fail(new FrameError({ reason: "BadFrame", path: file, cause: png.left }))
      return ensureDirectory(dir).pipe(
        Effect.zipRight(fs.writeFile(file, png.right.bytes)),
        Effect.mapError((cause) => new FrameError({ reason: "Io", path: file, cause })),
        Effect.as<Written>({ path: file, bytes: png.right.bytes.byteLength, size: png.right.size })
      )
    }

    const writeH264 = (event: RecallEvent.VideoSeparateH264) => {
      const [participant, type] = folderOf(event)
      const dir = path.join(directory, participant!)
      const file = path.join(dir, `${type}.h264`)
      const bytes = Video.bytes(event)
      if (Either.isLeft(bytes)) {
        return Effect.fail(new FrameError({ reason: "BadFrame", path: file, cause: bytes.left }))
      }
      return lock.withPermits(1)(Effect.gen(function*() {
        let handle = streams.get(file)
        if (handle === undefined) {
          yield* ensureDirectory(dir)
          handle = yield* fs.open(file, { flag: "a" }).pipe(Scope.extend(scope))
          streams.set(file, handle)
        }
        yield* handle.writeAll(bytes.right)
      })).pipe(
        Effect.mapError((cause) => new FrameError({ reason: "Io", path: file, cause })),
        Effect.as<Written>({ path: file, bytes: bytes.right.byteLength })
      )
    }

    return {
      write: (event) => event.event === "video_separate_png.data" ? writePng(event) : writeH264(event)
    }
  })
