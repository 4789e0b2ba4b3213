/**
 * `EventSource` is the service every source of Recall events implements: the websocket server in production,
 * and in tests an iterable or a tape. It offers one flat Stream of {@link SessionEvent.SessionEvent}s; each names
 * its session, so `EventStream.sessions` can split it per meeting.
 *
 * @example
 * ```ts
 * import { EventSource, RecallEvent } from "@callstream/core"
 * import { Effect, Stream } from "effect"
 *
 * const countTranscripts = Effect.gen(function*() {
 *   const source = yield* EventSource.EventSource
 *   return yield* source.events.pipe(
 *     Stream.filter((item) => item._tag === "Message" && RecallEvent.isTranscriptEvent(item.event)),
 *     Stream.runCount
 *   )
 * })
 *
 * // in a test: no socket, no Recall
 * const result = countTranscripts.pipe(Effect.provide(EventSource.fromIterable([])))
 * ```
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Decoder from "./Decoder.js"
import * as Printable from "./Printable.js"
import type * as RecallEvent from "./RecallEvent.js"
import * as SessionEvent from "./SessionEvent.js"
import * as SessionKey from "./SessionKey.js"
import * as Tape from "./Tape.js"

/**
 * The service: a Stream of every session's events, in arrival order within each session.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventSource {
  readonly events: Stream.Stream<SessionEvent.SessionEvent>
}

/**
 * @since 0.1.0
 * @category tags
 */
export const EventSource: Context.Tag<EventSource, EventSource> = Context.GenericTag<EventSource>(
  "@callstream/core/EventSource"
)

/**
 * Makes the service from a Stream.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (events: Stream.Stream<SessionEvent.SessionEvent>): EventSource => ({ events })

/**
 * One item a test source replays: a decoded event, or the failure a frame gave.
 *
 * @since 0.1.0
 * @category models
 */
export type Replayed = RecallEvent.RecallEvent | Decoder.DecodeError

interface Timed {
  readonly item: Replayed
  readonly receivedAt: number
  readonly raw?: string | undefined
}

/**
 * Wraps decoded items as a source would: `SessionStarted` before a session's first message, `Message` or
 * `DecodeFailed` for each item, `SessionEnded("completed")` for every session once the input ends. Items that
 * name no session are left out (a live source counts them in its metrics).
 *
 * An item that cannot be handled (a value that is not an event at all, from untyped code) becomes a
 * `DecodeFailed` with reason `InternalError` for the last session seen, or is left out and logged when there is
 * none yet; the Stream goes on either way.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withSessions = <E, R>(
  items: Stream.Stream<Timed, E, R>
): Stream.Stream<SessionEvent.SessionEvent, E, R> =>
  Stream.suspend(() => {
    // per run: runs of the same Stream, concurrent ones included, share nothing
    const started = new Set<SessionKey.SessionKey>()
    let lastKey: SessionKey.SessionKey | undefined

    const route = ({ item, raw, receivedAt }: Timed, out: Array<SessionEvent.SessionEvent>): void => {
      if (item instanceof Decoder.DecodeError) {
        if (lastKey !== undefined) {
          out.push(new SessionEvent.DecodeFailed({ session: lastKey, at: receivedAt, error: item }))
        }
        return
      }
      const key = Option.getOrUndefined(SessionKey.fromEvent(item))
      if (key === undefined) return
      // everything that can fail comes before the first change of state
      const start = started.has(key) ? undefined : SessionEvent.startedBy(key, item, receivedAt)
      const message = SessionEvent.message(key, item, receivedAt, { raw })
      if (start !== undefined) {
        started.add(key)
        out.push(start)
      }
      lastKey = key
      out.push(message)
    }

    return items.pipe(
      Stream.mapChunksEffect((chunk) =>
        Effect.suspend(() => {
          const out: Array<SessionEvent.SessionEvent> = []
          const unhandled: Array<unknown> = []
          for (const timed of chunk) {
            try {
              route(timed, out)
            } catch (cause) {
              const at = typeof timed?.receivedAt === "number" ? timed.receivedAt : 0
              const error = Decoder.internalError(cause, typeof timed?.raw === "string" ? timed.raw.length : 0)
              if (lastKey === undefined) unhandled.push(cause)
              else out.push(new SessionEvent.DecodeFailed({ session: lastKey, at, error }))
            }
          }
          const result = Chunk.unsafeFromArray(out)
          if (unhandled.length === 0) return Effect.succeed(result)
          return Effect.as(
            Effect.logWarning(`${unhandled.length} item(s) naming no session could not be handled and were left out`)
              .pipe(
                Effect.annotateLogs("error", Printable.text(Decoder.internalError(unhandled[0], 0).issue))
              ),
            result
          )
        })
      ),
      Stream.concat(
        Stream.fromEffect(Clock.currentTimeMillis).pipe(
          Stream.flatMap((at) =>
            Stream.fromIterable(
              Array.from(started, (session) => new SessionEvent.SessionEnded({ session, at, reason: "completed" }))
            )
          )
        )
      )
    )
  })

/**
 * A source that replays the given events (or decode failures) at once, in order.
 *
 * @since 0.1.0
 * @category test layers
 */
export const fromIterable = (items: Iterable<Replayed>): Layer.Layer<EventSource> =>
  Layer.succeed(
    EventSource,
    make(
      withSessions(
        Stream.fromIterable(items).pipe(
          Stream.mapEffect((item) => Effect.map(Clock.currentTimeMillis, (receivedAt) => ({ item, receivedAt })))
        )
      )
    )
  )

/**
 * Options for {@link fromTape}.
 *
 * @since 0.1.0
 * @category test layers
 */
export interface TapeOptions {
  /** How fast to play: 1 is real time, 10 ten times as fast; `Infinity` (the default) as fast as possible. */
  readonly speed?: number | undefined
}

/**
 * Replays one tape file, line by line, paced by each entry's `at` divided by `speed` on the Effect `Clock`
 * (so `TestClock.adjust` drives it in tests). A message that does not decode becomes `DecodeFailed`, and so does
 * a line that is not a tape entry at all (the torn last line of a tape whose writer was killed, say): reported in
 * the session of the line before it, and the replay goes on.
 *
 * @since 0.1.0
 * @category test layers
 */
export const tapeEvents = (
  path: string,
  options?: TapeOptions
): Stream.Stream<SessionEvent.SessionEvent, PlatformError.PlatformError, FileSystem.FileSystem> => {
  const speed = options?.speed ?? Infinity
  return Stream.unwrap(
    Effect.map(Clock.currentTimeMillis, (start) =>
      withSessions(
        Tape.readEither(path).pipe(
          Stream.mapEffect((line) =>
            Effect.gen(function*() {
              if (Either.isLeft(line)) {
                const receivedAt = yield* Clock.currentTimeMillis
                const error = new Decoder.DecodeError({
                  reason: "InvalidJson",
                  path: "",
                  issue: `Tape line ${line.left.line} is not a tape entry`,
                  bytes: 0
                })
                return { item: error, receivedAt }
              }
              const entry = line.right
              if (Number.isFinite(speed) && speed > 0) {
                const due = start + (entry.at * 1000) / speed
                const now = yield* Clock.currentTimeMillis
                if (due > now) yield* Effect.sleep(Duration.millis(due - now))
              }
              const receivedAt = yield* Clock.currentTimeMillis
              try {
                const raw = JSON.stringify(entry.message)
                return { item: Either.merge(Decoder.decodeJsonEither(entry.message, raw.length)), receivedAt, raw }
              } catch (cause) {
                // a message nested too deeply to write back as text, say: reported for that entry alone
                return { item: Decoder.internalError(cause, 0), receivedAt }
              }
            })
          )
        )
      ))
  )
}

/**
 * A source that replays a tape file. Fails the stream (and so the consumer) when the tape cannot be read.
 *
 * @since 0.1.0
 * @category test layers
 */
export const fromTape = (path: string, options?: TapeOptions): Layer.Layer<EventSource, never, FileSystem.FileSystem> =>
  Layer.effect(
    EventSource,
    Effect.map(
      Effect.context<FileSystem.FileSystem>(),
      (context) => make(tapeEvents(path, options).pipe(Stream.provideContext(context), Stream.orDie))
    )
  )
