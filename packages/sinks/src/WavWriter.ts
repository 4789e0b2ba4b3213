/**
 * A WAV file (RIFF, PCM 16-bit, mono, 16 kHz: Recall's format) written incrementally through @effect/platform's
 * `FileSystem`. Samples are written at a sample offset, each call one positioned write: past the end the file
 * grows and the gap becomes silence (a hole the file system fills with zeros, not samples written one by one),
 * before the end they overwrite what is there. Callers that collect samples first (the session recorder writes a
 * track's run of samples once per flush tick) get one write per run.
 *
 * The RIFF header carries the data length. It only ever declares bytes whose write has completed, so a failed
 * write (a full disk) never leaves a header claiming data the file lacks. It is patched by a background fiber at
 * most `patchInterval` after any write (default 500 ms), by a write when the last patch is older than that, and
 * when the scope closes; with `patchInBackground: false` only `flush` and closing the scope patch it, for callers
 * that patch many files on a tick of their own. A process killed at any moment leaves a file any player opens,
 * missing at most the last interval's audio in the declared length. Opening an existing file continues it: its
 * data length is taken from the file size (the truth after a kill), so new audio lands at the right offset; a file
 * too short to hold a header (1 to 43 bytes, a kill right after it was created) is started again.
 *
 * @example
 * ```ts
 * import { WavWriter } from "@callstream/sinks"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const wav = yield* WavWriter.make("tone.wav")
 *     yield* wav.write(16_000, new Int16Array(1600)) // 100 ms of silence at 1 s; 0-1 s is silence too
 *   })
 * ).pipe(Effect.provide(NodeContext.layer))
 * ```
 *
 * @since 0.1.0
 */
import { Audio } from "@callstream/core"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as GatheredWrite from "./GatheredWrite.js"

/**
 * The size of the header this module writes; the data starts right after it.
 *
 * @since 0.1.0
 * @category constants
 */
export const HEADER_BYTES = 44

/**
 * A WAV file that cannot be written: an I/O failure, or an existing file that is not a 16 kHz mono 16-bit WAV
 * with the plain 44-byte header this module writes.
 *
 * @since 0.1.0
 * @category errors
 */
export class WavError extends Data.TaggedError("WavError")<{
  readonly reason: "Io" | "IncompatibleFile"
  readonly path: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.reason} for ${this.path}${this.cause === undefined ? "" : `: ${String(this.cause)}`}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WavWriter {
  readonly path: string
  /**
   * Writes samples at a sample offset (0 = the first sample of the file): one array, or consecutive pieces of one run
   * (written with one call when the file can gather them, see `GatheredWrite`).
   */
  readonly write: (offset: number, samples: Int16Array | ReadonlyArray<Int16Array>) => Effect.Effect<void, WavError>
  /** Grows the file with silence up to `samples` samples (nothing when it is longer already). */
  readonly extendTo: (samples: number) => Effect.Effect<void, WavError>
  /** The number of samples the file holds. */
  readonly samples: Effect.Effect<number>
  /** Patches the header now. */
  readonly flush: Effect.Effect<void, WavError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The longest a write may wait for the header to declare it. Default 500 ms. */
  readonly patchInterval?: Duration.DurationInput | undefined
  /**
   * Whether a fiber of the writer's own patches the header every `patchInterval` (default true). Turn it off when
   * the caller runs `flush` on a schedule of its own, as the session recorder does for all its tracks at once.
   *
   * @since 0.2.0
   */
  readonly patchInBackground?: boolean | undefined
}

/**
 * The 44-byte header of a 16 kHz mono 16-bit PCM WAV holding `dataBytes` bytes of samples.
 *
 * @since 0.1.0
 * @category encoding
 */
export const header = (dataBytes: number): Uint8Array => {
  const bytes = new Uint8Array(HEADER_BYTES)
  const view = new DataView(bytes.buffer)
  const ascii = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) bytes[offset + i] = text.charCodeAt(i)
  }
  const data = Math.min(dataBytes, 0xffffffff - 36)
  ascii(0, "RIFF")
  view.setUint32(4, 36 + data, true)
  ascii(8, "WAVE")
  ascii(12, "fmt ")
  view.setUint32(16, 16, true) // fmt chunk size
  view.setUint16(20, 1, true) // PCM
  view.setUint16(22, 1, true) // mono
  view.setUint32(24, Audio.SAMPLE_RATE, true)
  view.setUint32(28, Audio.BYTES_PER_SECOND, true)
  view.setUint16(32, Audio.BYTES_PER_SAMPLE, true) // block align
  view.setUint16(34, 16, true) // bits per sample
  ascii(36, "data")
  view.setUint32(40, data, true)
  return bytes
}

/**
 * What a header says: the format fields and the declared data length.
 *
 * @since 0.1.0
 * @category decoding
 */
export interface Header {
  readonly sampleRate: number
  readonly channels: number
  readonly bitsPerSample: number
  readonly dataBytes: number
}

/**
 * Reads a plain 44-byte PCM WAV header (none when the bytes are not one).
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseHeader = (bytes: Uint8Array): Option.Option<Header> => {
  if (bytes.byteLength < HEADER_BYTES) return Option.none()
  const text = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4))
  if (text(0) !== "RIFF" || text(8) !== "WAVE" || text(12) !== "fmt " || text(36) !== "data") return Option.none()
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(16, true) !== 16 || view.getUint16(20, true) !== 1) return Option.none()
  return Option.some({
    channels: view.getUint16(22, true),
    sampleRate: view.getUint32(24, true),
    bitsPerSample: view.getUint16(34, true),
    dataBytes: view.getUint32(40, true)
  })
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const bytesOf = (samples: Int16Array): Uint8Array => {
  if (littleEndian) return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength)
  const out = new Uint8Array(samples.length * 2)
  const view = new DataView(out.buffer)
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i]!, true)
  return out
}

/**
 * Opens (or continues) a WAV file for the life of the scope; closing the scope patches the header a last time.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  path: string,
  options?: Options
): Effect.Effect<WavWriter, WavError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const io = (cause: unknown) => new WavError({ reason: "Io", path, cause })
    const exists = yield* fs.exists(path).pipe(Effect.mapError(io))
    const size = exists ? Number((yield* fs.stat(path).pipe(Effect.mapError(io))).size) : 0
    const file = yield* fs.open(path, { flag: size >= HEADER_BYTES ? "r+" : "w+" }).pipe(Effect.mapError(io))
    let dataBytes = 0
    if (size >= HEADER_BYTES) {
      const head = new Uint8Array(HEADER_BYTES)
      yield* file.read(head).pipe(Effect.mapError(io))
      const parsed = parseHeader(head)
      if (
        Option.isNone(parsed) || parsed.value.sampleRate !== Audio.SAMPLE_RATE || parsed.value.channels !== 1 ||
        parsed.value.bitsPerSample !== 16
      ) {
        return yield* new WavError({ reason: "IncompatibleFile", path, cause: "not a 16 kHz mono 16-bit PCM WAV" })
      }
      // the file size is the truth: a killed writer may have written past its last header patch
      dataBytes = (size - HEADER_BYTES) - ((size - HEADER_BYTES) % 2) // whole samples (no 32-bit bit tricks: files may pass 2 GB)
      if (dataBytes !== size - HEADER_BYTES) yield* file.truncate(HEADER_BYTES + dataBytes).pipe(Effect.mapError(io))
    }
    const interval = Duration.toMillis(Duration.decode(options?.patchInterval ?? Duration.millis(500)))
    const background = options?.patchInBackground ?? true
    const lock = yield* Effect.makeSemaphore(1)
    let declared = -1
    let lastPatch = yield* Clock.currentTimeMillis
    // where the file's position is known to be (after a read, a write or a seek of ours), so a write that continues
    // where the last one ended needs no seek; unknown (-1) after anything failed
    let position = -1
    const seek = (to: number) => to === position ? Effect.void : Effect.asVoid(file.seek(to, "start"))
    const moved = <A, E>(to: number, effect: Effect.Effect<A, E>) =>
      Effect.matchEffect(effect, {
        onFailure: (error) => {
          position = -1
          return Effect.fail(error)
        },
        onSuccess: (a) => {
          position = to
          return Effect.succeed(a)
        }
      })

    // dataBytes only ever grows after a write or truncate has completed, so the header never runs ahead of the data
    const patch = Effect.gen(function*() {
      if (declared === dataBytes) return
      const declaring = dataBytes
      yield* moved(HEADER_BYTES, Effect.zipRight(seek(0), file.writeAll(header(declaring)).pipe(Effect.mapError(io))))
      declared = declaring
      lastPatch = yield* Clock.currentTimeMillis
    })

    const extend = (bytes: number) =>
      bytes > dataBytes
        ? file.truncate(HEADER_BYTES + bytes).pipe(
          Effect.mapError(io),
          Effect.tap(() => Effect.sync(() => (dataBytes = Math.max(dataBytes, bytes))))
        )
        : Effect.void

    const maybePatch = Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => now - lastPatch >= interval ? patch : Effect.void
    )

    // a write past the end leaves a hole the file system reads back as zeros: silence, with no call of its own
    const write = (offset: number, samples: Int16Array | ReadonlyArray<Int16Array>) => {
      const pieces = ArrayBuffer.isView(samples) ? [bytesOf(samples)] : samples.map(bytesOf)
      let bytes = 0
      for (const piece of pieces) bytes += piece.byteLength
      if (bytes === 0) return Effect.void
      const start = offset * Audio.BYTES_PER_SAMPLE
      const written = moved(
        HEADER_BYTES + start + bytes,
        Effect.zipRight(seek(HEADER_BYTES + start), GatheredWrite.writeAll(file, pieces)).pipe(Effect.mapError(io))
      ).pipe(
        Effect.tap(() => {
          dataBytes = Math.max(dataBytes, start + bytes)
        })
      )
      return lock.withPermits(1)(background ? Effect.zipRight(written, maybePatch) : written)
    }

    const flush = lock.withPermits(1)(patch)
    yield* flush
    if (background) {
      yield* Effect.forkScoped(
        Effect.sleep(interval).pipe(Effect.zipRight(Effect.ignore(flush)), Effect.forever, Effect.interruptible)
      )
    }
    yield* Effect.addFinalizer(() => Effect.ignore(flush))
    return {
      path,
      write,
      extendTo: (samples: number) => lock.withPermits(1)(extend(samples * Audio.BYTES_PER_SAMPLE)),
      samples: Effect.sync(() => dataBytes / Audio.BYTES_PER_SAMPLE),
      flush
    }
  })
