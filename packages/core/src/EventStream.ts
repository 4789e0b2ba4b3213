/**
 * Stream combinators for Recall events: narrow a Stream to some events, split it per session or per participant,
 * drop repeated messages, put slightly late events back in order, and find the holes in audio.
 *
 * Every combinator is a `Stream -> Stream` function usable both ways (`EventStream.dedupe(stream, options)` or
 * `stream.pipe(EventStream.dedupe(options))`). Those that keep state (`dedupe`, `reorder`, `audioGaps`) keep it
 * per run and bounded, and most accept either a Stream of `RecallEvent`s or a Stream of `SessionEvent`s: on the
 * latter they look at the event inside each `Message` and let control events through.
 *
 * @example
 * ```ts
 * import { EventSource, EventStream } from "@callstream/core"
 * import { Effect, Stream } from "effect"
 *
 * const captions = Effect.gen(function*() {
 *   const source = yield* EventSource.EventSource
 *   yield* source.events.pipe(
 *     EventStream.dedupe({ window: 256 }),
 *     EventStream.sessions({ bufferSize: 64 }),
 *     Stream.flatMap(
 *       (session) =>
 *         session.events.pipe(
 *           EventStream.filterMessages("transcript.data"),
 *           Stream.map((message) => message.event.data.data.words.map((word) => word.text).join(" "))
 *         ),
 *       { concurrency: "unbounded" }
 *     ),
 *     Stream.runForEach((line) => Effect.log(line))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import { hasProperty } from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Audio from "./Audio.js"
import { KeyWindow } from "./internal/keyWindow.js"
import { MinHeap } from "./internal/minHeap.js"
import * as RecallEvent from "./RecallEvent.js"
import type * as SessionEvent from "./SessionEvent.js"
import * as SessionKey from "./SessionKey.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * What the stateful combinators accept: bare events, or a session Stream's items (of which only `Message`s carry
 * an event).
 *
 * @since 0.1.0
 * @category models
 */
export type Item = RecallEvent.RecallEvent | SessionEvent.SessionEvent

/**
 * A `Message` whose event is one of the named events.
 *
 * @since 0.1.0
 * @category models
 */
export type MessageOf<Name extends RecallEvent.RecallEvent["event"]> = SessionEvent.Message & {
  readonly event: RecallEvent.EventOf<Name>
}

/**
 * One session's part of a flat Stream, as {@link sessions} hands it out.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session<A extends SessionEvent.SessionEvent = SessionEvent.SessionEvent, E = never> {
  readonly key: SessionKey.SessionKey
  readonly events: Stream.Stream<A, E>
}

/**
 * The key of one audio or participant track: a participant id as text, or `"mixed"` for the meeting's mixed audio.
 *
 * @since 0.1.0
 * @category models
 */
export type TrackKey = SessionKey.ParticipantKey | "mixed"

/**
 * One participant's part of a Stream, as {@link byParticipant} hands it out.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParticipantStream<A, E = never> {
  readonly key: TrackKey
  readonly events: Stream.Stream<A, E>
}

const TrackKeySchema = Schema.String.pipe(
  Schema.filter((key: string): key is TrackKey => key.length > 0, { message: () => "Expected a track key" })
)

/**
 * A span of meeting time (seconds, `timestamp.relative`) that one audio track did not cover: `start` is where the
 * previous chunk's samples ended, `end` where the next chunk begins. It is a Schema class, so it can be written
 * to `session.json` as it is.
 *
 * @since 0.1.0
 * @category models
 */
export class AudioGap extends Schema.TaggedClass<AudioGap>()("AudioGap", {
  session: SessionKey.SessionKey,
  participant: TrackKeySchema,
  start: Schema.Number,
  end: Schema.Number
}) {
  /** The length of the gap in seconds. */
  get duration(): number {
    return this.end - this.start
  }
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isAudioGap = (u: unknown): u is AudioGap => u instanceof AudioGap

// -----------------------------------------------------------------------------
// accessors
// -----------------------------------------------------------------------------

/**
 * The event an item carries: the item itself for a bare event, the event of a `Message`, nothing for a control
 * event.
 *
 * @since 0.1.0
 * @category accessors
 */
export const eventOf = (item: Item): RecallEvent.RecallEvent | undefined => {
  // A bare event's `event` is its name; a Message's `event` is the event object; control events have none.
  if (typeof (item as { readonly event?: unknown }).event === "string") return item as RecallEvent.RecallEvent
  return (item as SessionEvent.SessionEvent)._tag === "Message" ? (item as SessionEvent.Message).event : undefined
}

const isSessionEnded = (item: Item): item is SessionEvent.SessionEnded =>
  (item as { readonly _tag?: unknown })._tag === "SessionEnded"

const sessionOf = (item: Item, event: RecallEvent.RecallEvent): string =>
  (item as { readonly _tag?: unknown })._tag === "Message"
    ? (item as SessionEvent.Message).session
    : Option.getOrElse(SessionKey.fromEvent(event), () => "")

const isStreamFirst = (args: IArguments): boolean => hasProperty(args[0], Stream.StreamTypeId)

// -----------------------------------------------------------------------------
// filtering
// -----------------------------------------------------------------------------

/**
 * Keeps the events with one of the given names; the element type narrows to those events.
 *
 * ```ts
 * // Stream<RecallEvent> -> Stream<TranscriptData | TranscriptPartialData>
 * events.pipe(EventStream.filterEvents("transcript.data", "transcript.partial_data"))
 * ```
 *
 * @since 0.1.0
 * @category filtering
 */
export const filterEvents: {
  <Name extends RecallEvent.RecallEvent["event"]>(
    ...names: readonly [Name, ...Array<Name>]
  ): <A extends RecallEvent.RecallEvent, E, R>(
    self: Stream.Stream<A, E, R>
  ) => Stream.Stream<Extract<A, { readonly event: Name }>, E, R>
  <A extends RecallEvent.RecallEvent, E, R, Name extends RecallEvent.RecallEvent["event"]>(
    self: Stream.Stream<A, E, R>,
    ...names: readonly [Name, ...Array<Name>]
  ): Stream.Stream<Extract<A, { readonly event: Name }>, E, R>
} = dual(
  isStreamFirst,
  <A extends RecallEvent.RecallEvent, E, R, Name extends RecallEvent.RecallEvent["event"]>(
    self: Stream.Stream<A, E, R>,
    ...names: ReadonlyArray<Name>
  ): Stream.Stream<Extract<A, { readonly event: Name }>, E, R> => {
    const wanted: ReadonlySet<string> = new Set(names)
    return Stream.filter(self, (event): event is Extract<A, { readonly event: Name }> => wanted.has(event.event))
  }
)

/**
 * Keeps the `Message`s whose event has one of the given names, and drops everything else (control events too).
 *
 * @since 0.1.0
 * @category filtering
 */
export const filterMessages: {
  <Name extends RecallEvent.RecallEvent["event"]>(
    ...names: readonly [Name, ...Array<Name>]
  ): <E, R>(self: Stream.Stream<SessionEvent.SessionEvent, E, R>) => Stream.Stream<MessageOf<Name>, E, R>
  <E, R, Name extends RecallEvent.RecallEvent["event"]>(
    self: Stream.Stream<SessionEvent.SessionEvent, E, R>,
    ...names: readonly [Name, ...Array<Name>]
  ): Stream.Stream<MessageOf<Name>, E, R>
} = dual(
  isStreamFirst,
  <E, R, Name extends RecallEvent.RecallEvent["event"]>(
    self: Stream.Stream<SessionEvent.SessionEvent, E, R>,
    ...names: ReadonlyArray<Name>
  ): Stream.Stream<MessageOf<Name>, E, R> => {
    const wanted: ReadonlySet<string> = new Set(names)
    return Stream.filter(
      self,
      (item): item is MessageOf<Name> => item._tag === "Message" && wanted.has(item.event.event)
    )
  }
)

// -----------------------------------------------------------------------------
// splitting
// -----------------------------------------------------------------------------

/**
 * Options for {@link sessions} and {@link byParticipant}.
 *
 * @since 0.1.0
 * @category splitting
 */
export interface SplitOptions {
  /**
   * How many chunks (a chunk is what the upstream emits at once; one event each for a source that emits events
   * one by one) may wait for each group's consumer before the whole input is held back. Default 64.
   */
  readonly bufferSize?: number | undefined
}

const defaultBufferSize = 64

/**
 * Splits a flat Stream of many sessions into one Stream per session, in the order sessions first appear. Each
 * session's `events` keeps the input's order and ends right after that session's `SessionEnded` (or when the
 * input ends), so a per-session fold completes while other meetings go on.
 *
 * Built on `Stream.groupByKey`, with a buffer of `bufferSize` chunks per session. Nothing is ever dropped: when a
 * session's consumer is slow and its buffer is full, the splitter waits, which holds back EVERY session (and,
 * through the source's own buffers, the sockets). So run every session's `events` concurrently (e.g.
 * `Stream.flatMap(f, { concurrency: "unbounded" })`), and run or drain each one: a session nobody reads stalls
 * the others once its buffer fills. A consumer that may shed load can put its own
 * `Stream.buffer({ capacity, strategy: "sliding" })` on media inside a session. Each session seen stays known
 * (one small entry) until the input ends; events a session sends after its `SessionEnded` are discarded.
 *
 * @since 0.1.0
 * @category splitting
 */
export const sessions: {
  (
    options?: SplitOptions
  ): <A extends SessionEvent.SessionEvent, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<Session<A, E>, E, R>
  <A extends SessionEvent.SessionEvent, E, R>(
    self: Stream.Stream<A, E, R>,
    options?: SplitOptions
  ): Stream.Stream<Session<A, E>, E, R>
} = dual(
  isStreamFirst,
  <A extends SessionEvent.SessionEvent, E, R>(
    self: Stream.Stream<A, E, R>,
    options?: SplitOptions
  ): Stream.Stream<Session<A, E>, E, R> =>
    Stream.groupByKey(self, (item) => item.session, { bufferSize: options?.bufferSize ?? defaultBufferSize }).grouped
      .pipe(
        Stream.map(([key, queue]): Session<A, E> => ({
          key,
          events: Stream.fromQueue(queue, { shutdown: true }).pipe(Stream.flattenTake, Stream.takeUntil(isSessionEnded))
        }))
      )
)

/**
 * The track an item belongs to: mixed audio is `"mixed"`, an event that names a participant is keyed by it,
 * anything else (control events, unknown events, `transcript.provider_data`) belongs to no track.
 *
 * @since 0.1.0
 * @category accessors
 */
export const trackOf = (item: Item): TrackKey | undefined => {
  const event = eventOf(item)
  if (event === undefined) return undefined
  if (event.event === "audio_mixed_raw.data") return "mixed"
  const participant = RecallEvent.participantOf(event)
  return participant === undefined ? undefined : SessionKey.participantKey(participant)
}

/**
 * Splits ONE session's Stream per participant (participant ids are unique within a meeting only, so split by
 * {@link sessions} first when the input carries several). Every event that names a participant (media,
 * participant events, transcripts) goes to that participant's Stream; mixed audio goes to a `"mixed"` Stream;
 * events that belong to no track (see {@link trackOf}) are left out. Buffering and slow consumers behave as in
 * {@link sessions}; each Stream ends when the input does.
 *
 * @since 0.1.0
 * @category splitting
 */
export const byParticipant: {
  (
    options?: SplitOptions
  ): <A extends Item, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<ParticipantStream<A, E>, E, R>
  <A extends Item, E, R>(
    self: Stream.Stream<A, E, R>,
    options?: SplitOptions
  ): Stream.Stream<ParticipantStream<A, E>, E, R>
} = dual(
  isStreamFirst,
  <A extends Item, E, R>(self: Stream.Stream<A, E, R>, options?: SplitOptions): Stream.Stream<
    ParticipantStream<A, E>,
    E,
    R
  > =>
    self.pipe(
      Stream.filterMap((item) => {
        const key = trackOf(item)
        return key === undefined ? Option.none() : Option.some([key, item] as const)
      }),
      Stream.groupByKey(([key]) => key, { bufferSize: options?.bufferSize ?? defaultBufferSize }),
      (grouped) => grouped.grouped,
      Stream.map(([key, queue]): ParticipantStream<A, E> => ({
        key,
        events: Stream.fromQueue(queue, { shutdown: true }).pipe(
          Stream.flattenTake,
          Stream.map(([, item]) => item)
        )
      }))
    )
)

// -----------------------------------------------------------------------------
// dedupe
// -----------------------------------------------------------------------------

/**
 * What makes two messages the same for {@link dedupe}, as a string: the session, the wire name, the participant
 * id and `timestamp.relative`; plus the stream type for video (a webcam and a screenshare frame may share a
 * time) and the text of a chat message. A transcript's key is its words (text, start and end); an event with no
 * timestamp (`transcript.provider_data`, unknown events) is keyed by its whole JSON body.
 *
 * @since 0.1.0
 * @category dedupe
 */
export const dedupeKey = (event: RecallEvent.RecallEvent, session?: string): string => {
  const where = session ?? Option.getOrElse(SessionKey.fromEvent(event), () => "")
  switch (event.event) {
    case "unknown":
      return JSON.stringify([where, event.name, event.data])
    case "transcript.provider_data":
      return JSON.stringify([where, event.event, event.data.data])
    case "transcript.data":
    case "transcript.partial_data": {
      const { participant, words } = event.data.data
      return JSON.stringify([
        where,
        event.event,
        participant.id,
        words.map((word) => [word.text, word.start_timestamp?.relative ?? null, word.end_timestamp?.relative ?? null])
      ])
    }
    case "audio_mixed_raw.data":
      return JSON.stringify([where, event.event, null, event.data.data.timestamp.relative])
    case "video_separate_png.data":
    case "video_separate_h264.data": {
      const { participant, timestamp, type } = event.data.data
      return JSON.stringify([where, event.event, participant.id, timestamp.relative, type])
    }
    case "participant_events.chat_message": {
      const { data, participant, timestamp } = event.data.data
      return JSON.stringify([where, event.event, participant.id, timestamp.relative, data.text])
    }
    default: {
      const { participant, timestamp } = event.data.data
      return JSON.stringify([where, event.event, participant.id, timestamp.relative])
    }
  }
}

/**
 * Options for {@link dedupe}.
 *
 * @since 0.1.0
 * @category dedupe
 */
export interface DedupeOptions {
  /** How many recent keys to remember. A repeat older than that passes. 0 or less turns deduping off. */
  readonly window: number
}

/**
 * Drops a message whose {@link dedupeKey} is among the `window` most recent distinct keys (Recall sometimes sends
 * a message twice, e.g. around a reconnect). Memory is bounded by the window. On a Stream of `SessionEvent`s only
 * `Message`s are compared; control events always pass.
 *
 * @since 0.1.0
 * @category dedupe
 */
export const dedupe: {
  (options: DedupeOptions): <A extends Item, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<A, E, R>
  <A extends Item, E, R>(self: Stream.Stream<A, E, R>, options: DedupeOptions): Stream.Stream<A, E, R>
} = dual(
  2,
  <A extends Item, E, R>(self: Stream.Stream<A, E, R>, options: DedupeOptions): Stream.Stream<A, E, R> =>
    Stream.suspend(() => {
      const seen = new KeyWindow(Math.floor(options.window))
      return Stream.filter(self, (item) => {
        const event = eventOf(item)
        return event === undefined || seen.add(dedupeKey(event, sessionOf(item, event)))
      })
    })
)

// -----------------------------------------------------------------------------
// reorder
// -----------------------------------------------------------------------------

/**
 * Options for {@link reorder}.
 *
 * @since 0.1.0
 * @category reorder
 */
export interface ReorderOptions {
  /** How many timed events may be held back at most. 0 or less passes everything through unchanged. */
  readonly window: number
}

/**
 * Puts events back in meeting-time order (`RecallEvent.relativeTimeOf`) when they arrive at most `window`
 * places late. Up to `window` timed events are held in a min-heap; when one more arrives, the earliest held one
 * is emitted. Events with the same time keep their arrival order. An event later than the window allows comes
 * out late rather than holding the Stream back, so the Stream never waits for more than `window` events. Events
 * with no time (and control events) pass at once, except `SessionEnded`, which first releases everything held so
 * it stays the last item of its session. Whatever is held when the input ends is flushed, in order.
 *
 * Meeting times of different meetings do not compare: reorder one session's Stream (see {@link sessions}).
 *
 * @since 0.1.0
 * @category reorder
 */
export const reorder: {
  (options: ReorderOptions): <A extends Item, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<A, E, R>
  <A extends Item, E, R>(self: Stream.Stream<A, E, R>, options: ReorderOptions): Stream.Stream<A, E, R>
} = dual(2, <A extends Item, E, R>(self: Stream.Stream<A, E, R>, options: ReorderOptions): Stream.Stream<A, E, R> => {
  const window = Math.floor(options.window)
  if (!(window > 0)) return self
  return Stream.suspend(() => {
    const heap = new MinHeap<A>()
    return self.pipe(
      Stream.mapChunks((chunk) => {
        const out: Array<A> = []
        for (const item of chunk) {
          const event = eventOf(item)
          const time = event === undefined ? undefined : RecallEvent.relativeTimeOf(event)
          if (time === undefined) {
            if (isSessionEnded(item)) out.push(...heap.drain())
            out.push(item)
            continue
          }
          heap.push(time, item)
          if (heap.size > window) out.push(heap.pop()!)
        }
        return Chunk.unsafeFromArray(out)
      }),
      Stream.concat(Stream.suspend(() => Stream.fromIterable(heap.drain())))
    )
  })
})

// -----------------------------------------------------------------------------
// audio gaps
// -----------------------------------------------------------------------------

/**
 * Options for {@link audioGaps} and {@link withAudioGaps}.
 *
 * @since 0.1.0
 * @category audio gaps
 */
export interface AudioGapOptions {
  /**
   * How much uncovered time (seconds) is not yet a gap. Default 0.001 (1 ms, 16 samples): above float rounding of
   * `timestamp.relative`, below anything audible.
   */
  readonly tolerance?: number | undefined
}

/**
 * The gap between where a track's audio ends (`coveredUntil`, seconds) and a chunk that starts at `start`, when
 * it exceeds `tolerance`.
 *
 * @since 0.1.0
 * @category audio gaps
 */
export const gapBetween = (
  coveredUntil: number,
  start: number,
  tolerance: number
): { readonly start: number; readonly end: number } | undefined =>
  start > coveredUntil + tolerance ? { start: coveredUntil, end: start } : undefined

// Per run: for each session, for each track, the meeting time its audio covers up to.
const gapTracker = (options?: AudioGapOptions) => {
  const tolerance = options?.tolerance ?? 0.001
  const covered = new Map<string, Map<TrackKey, number>>()
  return (item: Item): AudioGap | undefined => {
    if (isSessionEnded(item)) {
      covered.delete(item.session)
      return undefined
    }
    const event = eventOf(item)
    if (event === undefined || !RecallEvent.isAudioEvent(event)) return undefined
    const session = sessionOf(item, event)
    const participant: TrackKey = event.event === "audio_mixed_raw.data"
      ? "mixed"
      : SessionKey.participantKey(event.data.data.participant)
    let tracks = covered.get(session)
    if (tracks === undefined) {
      tracks = new Map()
      covered.set(session, tracks)
    }
    const start = event.data.data.timestamp.relative
    const end = Audio.endOf(event)
    const until = tracks.get(participant)
    tracks.set(participant, until === undefined ? end : Math.max(until, end))
    if (until === undefined) return undefined
    const gap = gapBetween(until, start, tolerance)
    return gap === undefined
      ? undefined
      : new AudioGap({ session: SessionKey.make(session), participant, start: gap.start, end: gap.end })
  }
}

/**
 * Watches audio chunks (mixed audio and each participant's audio, tracked separately per session) and emits an
 * {@link AudioGap} wherever a chunk starts later than the previous audio of its track ends (`start + bytes /
 * 32000`) by more than the tolerance. A chunk that overlaps or arrives late never moves a track's end backwards.
 * Time before a track's first chunk is not a gap. A session's tracks are forgotten at its `SessionEnded`.
 *
 * @since 0.1.0
 * @category audio gaps
 */
export const audioGaps: {
  (options?: AudioGapOptions): <A extends Item, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<AudioGap, E, R>
  <A extends Item, E, R>(self: Stream.Stream<A, E, R>, options?: AudioGapOptions): Stream.Stream<AudioGap, E, R>
} = dual(
  isStreamFirst,
  <A extends Item, E, R>(self: Stream.Stream<A, E, R>, options?: AudioGapOptions): Stream.Stream<AudioGap, E, R> =>
    Stream.suspend(() => {
      const track = gapTracker(options)
      return Stream.filterMap(self, (item) => {
        return Option.fromNullable(track(item))
      })
    })
)

/**
 * Like {@link audioGaps}, but passes every item through and puts each {@link AudioGap} just before the chunk that
 * revealed it. Tell them apart with {@link isAudioGap}.
 *
 * @since 0.1.0
 * @category audio gaps
 */
export const withAudioGaps: {
  (
    options?: AudioGapOptions
  ): <A extends Item, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<A | AudioGap, E, R>
  <A extends Item, E, R>(self: Stream.Stream<A, E, R>, options?: AudioGapOptions): Stream.Stream<A | AudioGap, E, R>
} = dual(
  isStreamFirst,
  <A extends Item, E, R>(self: Stream.Stream<A, E, R>, options?: AudioGapOptions): Stream.Stream<A | AudioGap, E, R> =>
    Stream.suspend(() => {
      const track = gapTracker(options)
      return Stream.mapChunks(self, (chunk) => {
        const out: Array<A | AudioGap> = []
        for (const item of chunk) {
          const gap = track(item)
          if (gap !== undefined) out.push(gap)
          out.push(item)
        }
        return Chunk.unsafeFromArray(out)
      })
    })
)
