/**
 * Places audio chunks on the meeting clock, as a pure reducer. Sample 0 of every track (the mixed one and one per
 * participant) is meeting time 0 (`timestamp.relative = 0`), so all tracks line up in any editor.
 *
 * Each chunk lands at `round(timestamp.relative * 16000)`. For each track the timeline keeps a frontier (the end
 * of the furthest sample placed) and which samples within a bounded window behind it hold real audio. From that
 * it decides what to write:
 * - a chunk that starts after the frontier leaves a gap, which the writer fills with silence (reconnects, mutes);
 * - samples that already hold audio are never written again, so overlapping and repeated chunks change nothing;
 * - a chunk that arrives late but within the window still lands at its place, over the silence left for it;
 *   what lies further back than the window is dropped and counted;
 * - a start within `snap` samples of the frontier is taken as continuing it, so rounding jitter in timestamps
 *   neither clicks nor leaves one-sample gaps.
 *
 * Two bounds keep one wrong timestamp from growing a WAV by hours of silence:
 * - audio past `maxSeconds` of meeting time (default 24 h) is dropped and counted;
 * - a chunk may open at most `maxAhead` seconds (default 10 minutes) of silence beyond the session's latest audio:
 *   the furthest frontier of any track, so a participant who first unmutes 40 minutes into a meeting lands at once
 *   wherever another track (the mixed one, another speaker) has reached. A chunk that starts further ahead is held
 *   back and counted as dropped. When the next chunk of its track continues it (starting where it ends, within
 *   `window`), the stream really is there (a receiver that joins a meeting late, a long silence of every track):
 *   both land, and the held chunk no longer counts as dropped. A lone chunk far ahead stays refused.
 *
 * The state after each event carries the writes that event asks for, so the reducer runs with `Stream.scan` in
 * front of a writer, and folds with {@link sink} to the final frontiers and counts.
 *
 * @example
 * ```ts
 * import { AudioTimeline } from "@callstream/sinks"
 * import { Stream } from "effect"
 *
 * const writes = <E, R>(events: Stream.Stream<AudioTimeline.Input, E, R>) =>
 *   events.pipe(
 *     Stream.scan(AudioTimeline.empty, AudioTimeline.reduce),
 *     Stream.mapConcat((state) => state.writes)
 *   )
 * ```
 *
 * @since 0.1.0
 */
import { Audio, EventStream } from "@callstream/core"
import * as Sink from "effect/Sink"
import * as NameRecord from "./internal/nameRecord.js"
import * as Placement from "./internal/placement.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Input = EventStream.Item

/**
 * The key of a track: `"mixed"` or a participant key.
 *
 * @since 0.1.0
 * @category models
 */
export type TrackKey = EventStream.TrackKey

/**
 * Samples to write at a sample offset of a track (offset 0 = meeting time 0).
 *
 * @since 0.1.0
 * @category models
 */
export interface Write {
  readonly track: TrackKey
  readonly offset: number
  readonly samples: Int16Array
}

/**
 * One track: its frontier in samples, the ranges `[start, end)` known to hold audio within the window behind the
 * frontier, and counts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Track {
  readonly frontier: number
  readonly covered: ReadonlyArray<readonly [number, number]>
  readonly chunks: number
  /** Chunks that arrived after a later one and still landed, at least in part. */
  readonly late: number
  /** Samples not written because they already held audio (overlaps, repeats). */
  readonly repeatedSamples: number
  /** Samples dropped: further back than the window, before meeting time 0, or past `maxSeconds`. */
  readonly droppedSamples: number
  /** Chunks whose buffer was not valid PCM. */
  readonly invalid: number
  /**
   * A chunk that started more than `maxAhead` beyond the session's latest audio, held back (and counted in
   * `droppedSamples`) until the next chunk of the track continues it.
   */
  readonly ahead?: { readonly offset: number; readonly samples: Int16Array } | undefined
}

/**
 * The state: every track, and the writes the latest event asked for.
 *
 * @since 0.1.0
 * @category models
 */
export interface AudioTimeline {
  readonly tracks: Readonly<Record<string, Track>>
  readonly writes: ReadonlyArray<Write>
}

/**
 * How far behind the frontier a late chunk may land, and how close to it a start snaps onto it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Seconds; default 5. */
  readonly window?: number | undefined
  /** Samples; default 16 (1 ms). */
  readonly snap?: number | undefined
  /**
   * Seconds of meeting time after which audio is dropped (and counted) rather than placed; default 24 hours. A
   * chunk stamped absurdly far ahead would otherwise grow a WAV by that much silence, and a WAV cannot declare more
   * than 4 GB (about 37 hours at 16 kHz).
   */
  readonly maxSeconds?: number | undefined
  /**
   * Seconds of silence one chunk may open beyond the session's latest audio (the furthest frontier of any track);
   * default 600 (10 minutes, well above the gaps of a real meeting). A chunk further ahead is held back and counted
   * as dropped until the next chunk of its track continues it.
   */
  readonly maxAhead?: number | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const empty: AudioTimeline = { tracks: {}, writes: [] }

/**
 * A track with nothing placed yet.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptyTrack: Track = Placement.emptyTrack

/**
 * A track continued from a file that already holds `samples` samples (e.g. after a restart): all of them count
 * as settled, so only audio after them is written. `counts` carries on the counts an earlier run saved.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resumed = (samples: number, counts?: Partial<Omit<Track, "frontier" | "covered">>): Track => ({
  ...emptyTrack,
  ...counts,
  frontier: samples,
  covered: samples > 0 ? [[0, samples]] : []
})

/**
 * The meeting time (seconds) of a sample offset, and back.
 *
 * @since 0.1.0
 * @category accessors
 */
export const secondsOf = (samples: number): number => samples / Audio.SAMPLE_RATE

/**
 * @since 0.1.0
 * @category accessors
 */
export const offsetOf = (seconds: number): number => Placement.offsetOf(seconds)

/**
 * Places `samples` starting at sample `offset` on a track: the new track and the writes to do.
 *
 * @since 0.1.0
 * @category reducers
 */
export const place: (
  track: Track,
  key: TrackKey,
  offset: number,
  samples: Int16Array,
  options?: Options
) => readonly [Track, ReadonlyArray<Write>] = Placement.place

/**
 * The reducer: places each audio chunk on its track. `writes` holds what the latest event asked for.
 *
 * @since 0.1.0
 * @category reducers
 */
export const reduceWith = (options?: Options) => (state: AudioTimeline, input: Input): AudioTimeline => {
  if (!isAudio(input)) return state.writes.length === 0 ? state : { ...state, writes: [] }
  const placer = new Placement.Placer(state.tracks, options)
  return placer.timeline(placer.add(input))
}

/**
 * The reducer applied to many items at once: the same timeline as folding {@link reduceWith} over them (`writes`
 * being the last item's), with one new record of tracks for the whole batch instead of one per chunk.
 *
 * @since 0.2.0
 * @category reducers
 */
export const reduceAllWith = (options?: Options) => (state: AudioTimeline, items: Iterable<Input>): AudioTimeline => {
  const placer = new Placement.Placer(state.tracks, options)
  let writes: ReadonlyArray<Write> = state.writes
  let placed = false
  for (const item of items) {
    if (isAudio(item)) {
      writes = placer.add(item)
      placed = true
    } else writes = []
  }
  if (placed) return placer.timeline(writes)
  return writes.length === 0 && state.writes.length !== 0 ? { ...state, writes } : state
}

const isAudio = (input: Input): boolean => {
  const event = EventStream.eventOf(input)
  return event !== undefined && (event.event === "audio_mixed_raw.data" || event.event === "audio_separate_raw.data")
}

/**
 * The reducer with the default options (a 5 s window).
 *
 * @since 0.1.0
 * @category reducers
 */
export const reduce: (state: AudioTimeline, input: Input) => AudioTimeline = reduceWith()

/**
 * {@link reduceAllWith} with the default options.
 *
 * @since 0.2.0
 * @category reducers
 */
export const reduceAll: (state: AudioTimeline, items: Iterable<Input>) => AudioTimeline = reduceAllWith()

/**
 * A Sink that folds a Stream into the final timeline (frontiers and counts per track).
 *
 * @since 0.1.0
 * @category sinks
 */
export const sink = (options?: Options): Sink.Sink<AudioTimeline, Input> => Sink.foldLeft(empty, reduceWith(options))

/**
 * The length of each track in seconds.
 *
 * @since 0.1.0
 * @category accessors
 */
export const durations = (state: AudioTimeline): Record<string, number> => {
  const out = NameRecord.empty<number>()
  for (const [key, track] of Object.entries(state.tracks)) out[key] = secondsOf(track.frontier)
  return out
}
