import { Audio, EventStream, type RecallEvent, SessionKey } from "@callstream/core"
import * as Either from "effect/Either"
import type { AudioTimeline, Input, Options, Track, TrackKey, Write } from "../AudioTimeline.js"
import * as NameRecord from "./nameRecord.js"

/**
 * The machinery of `AudioTimeline`: where a chunk lands on its track (`place`), and a `Placer` that places many
 * chunks on a copy of a timeline's tracks, made once, so a batch costs one new record of tracks instead of one per
 * chunk. `AudioTimeline.reduce` is a `Placer` for one event; the session recorder keeps one per session and reads
 * the timeline from it only when it needs it (a flush, a checkpoint).
 *
 * @internal
 */

/** @internal */
export const emptyTrack: Track = {
  frontier: 0,
  covered: [],
  chunks: 0,
  late: 0,
  repeatedSamples: 0,
  droppedSamples: 0,
  invalid: 0
}

/** @internal */
export const offsetOf = (seconds: number): number => Math.round(seconds * Audio.SAMPLE_RATE)

const NO_WRITES: ReadonlyArray<Write> = []

const addRange = (
  ranges: ReadonlyArray<readonly [number, number]>,
  start: number,
  end: number
): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  let s = start
  let e = end
  let placed = false
  for (const range of ranges) {
    if (range[1] < s) out.push(range)
    else if (range[0] > e) {
      if (!placed) {
        out.push([s, e])
        placed = true
      }
      out.push(range)
    } else {
      s = Math.min(s, range[0])
      e = Math.max(e, range[1])
    }
  }
  if (!placed) out.push([s, e])
  return out
}

// the ranges that end after `keepFrom`, with [start, end) added at the end: the common case of a chunk that starts
// at or after the frontier (every range ends at or before it), which merges with the last range when they touch
const appended = (
  ranges: ReadonlyArray<readonly [number, number]>,
  start: number,
  end: number,
  keepFrom: number
): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  const last = ranges.length - 1
  let s = start
  for (let i = 0; i <= last; i++) {
    const range = ranges[i]!
    if (i === last && range[1] >= start) s = Math.min(start, range[0])
    else if (range[1] > keepFrom) out.push(range)
  }
  if (end > keepFrom) out.push([s, end])
  return out
}

/** @internal */
export const place = (
  track: Track,
  key: TrackKey,
  offset: number,
  samples: Int16Array,
  options?: Options
): readonly [Track, ReadonlyArray<Write>] => {
  const n = samples.length
  if (n === 0) return [{ ...track, chunks: track.chunks + 1 }, NO_WRITES]
  if (offset + n > offsetOf(options?.maxSeconds ?? 24 * 60 * 60)) {
    return [{ ...track, chunks: track.chunks + 1, droppedSamples: track.droppedSamples + n }, NO_WRITES]
  }
  const window = offsetOf(options?.window ?? 5)
  const snap = options?.snap ?? 16
  const at = offset !== track.frontier && Math.abs(offset - track.frontier) <= snap ? track.frontier : offset
  const end = at + n
  const floor = Math.max(0, track.frontier - window)
  const from = Math.max(at, floor)
  const dropped = Math.min(n, from - at)
  const frontier = Math.max(track.frontier, end)
  const keepFrom = frontier - window
  let writes: Array<Write> = []
  let covered: ReadonlyArray<readonly [number, number]>
  let repeated = 0
  if (from < end && from >= track.frontier) {
    // nothing placed at or after the frontier: the whole span is free
    writes = [{ track: key, offset: from, samples: from === at ? samples : samples.subarray(from - at) }]
    covered = appended(track.covered, from, end, keepFrom)
  } else {
    covered = track.covered
    if (from < end) {
      // the free spans of [from, end): outside every covered range
      let cursor = from
      const free: Array<readonly [number, number]> = []
      for (const [s, e] of track.covered) {
        if (e <= cursor) continue
        if (s >= end) break
        if (s > cursor) free.push([cursor, Math.min(s, end)])
        cursor = Math.max(cursor, e)
        if (cursor >= end) break
      }
      if (cursor < end) free.push([cursor, end])
      let written = 0
      for (const [s, e] of free) {
        writes.push({ track: key, offset: s, samples: samples.subarray(s - at, e - at) })
        covered = addRange(covered, s, e)
        written += e - s
      }
      repeated = end - from - written
    }
    covered = covered.filter(([, e]) => e > keepFrom)
  }
  const next: Track = {
    ...track,
    frontier,
    covered,
    chunks: track.chunks + 1,
    late: track.late + (at < track.frontier && writes.length > 0 ? 1 : 0),
    repeatedSamples: track.repeatedSamples + repeated,
    droppedSamples: track.droppedSamples + dropped,
    invalid: track.invalid
  }
  return [next, writes]
}

/**
 * Places chunks on a timeline's tracks. The record of tracks is copied on the first chunk and changed in place
 * after that; `timeline` hands out an immutable timeline and starts a new copy at the next chunk, so every
 * timeline it handed out stays as it was.
 *
 * @internal
 */
export class Placer {
  private tracks: Readonly<Record<string, Track>>
  private owned = false
  // the furthest frontier of any track: the session's latest audio
  private frontier = 0
  private readonly ahead: number
  private readonly window: number
  private readonly snap: number

  constructor(
    tracks: Readonly<Record<string, Track>>,
    private readonly options: Options | undefined,
    /**
     * How a chunk's samples are decoded. The samples may be a view of a buffer that the next decode reuses: the
     * writes are handed over before that, and a chunk held back keeps a copy.
     */
    private readonly pcm: (event: RecallEvent.AudioEvent) => Either.Either<Int16Array, unknown> = Audio.pcm
  ) {
    this.tracks = tracks
    for (const key in tracks) this.frontier = Math.max(this.frontier, tracks[key]!.frontier)
    this.ahead = offsetOf(options?.maxAhead ?? 10 * 60)
    this.window = offsetOf(options?.window ?? 5)
    this.snap = options?.snap ?? 16
  }

  private set(key: TrackKey, track: Track): void {
    if (!this.owned) {
      this.tracks = { ...this.tracks }
      this.owned = true
    }
    ;(this.tracks as Record<string, Track>)[key] = track
    if (track.frontier > this.frontier) this.frontier = track.frontier
  }

  /** Places an audio event (anything else changes nothing); returns the writes it asks for. */
  add(input: Input): ReadonlyArray<Write> {
    const event = EventStream.eventOf(input)
    if (event === undefined || (event.event !== "audio_mixed_raw.data" && event.event !== "audio_separate_raw.data")) {
      return NO_WRITES
    }
    const key: TrackKey = event.event === "audio_mixed_raw.data"
      ? "mixed"
      : SessionKey.participantKey(event.data.data.participant)
    const track = NameRecord.get(this.tracks, key) ?? emptyTrack
    const pcm = this.pcm(event)
    if (Either.isLeft(pcm)) {
      this.set(key, { ...track, invalid: track.invalid + 1 })
      return NO_WRITES
    }
    const offset = offsetOf(event.data.data.timestamp.relative)
    const samples = pcm.right
    if (samples.length > 0 && offset > this.frontier + this.ahead) {
      const held = track.ahead
      const continues = held !== undefined && offset >= held.offset + held.samples.length - this.snap &&
        offset <= held.offset + held.samples.length + this.window
      if (!continues) {
        // held back, and counted as dropped unless its track goes on from it
        this.set(key, {
          ...track,
          chunks: track.chunks + 1,
          droppedSamples: track.droppedSamples + samples.length,
          ahead: { offset, samples: samples.slice() }
        })
        return NO_WRITES
      }
      const released: Track = {
        ...track,
        chunks: track.chunks - 1,
        droppedSamples: track.droppedSamples - held.samples.length,
        ahead: undefined
      }
      const [first, heldWrites] = place(released, key, held.offset, held.samples, this.options)
      const [next, writes] = place(first, key, offset, samples, this.options)
      this.set(key, next)
      return [...heldWrites, ...writes]
    }
    const [next, writes] = place(track, key, offset, samples, this.options)
    this.set(key, next)
    return writes
  }

  /** The timeline now, with `writes` as the latest writes. */
  timeline(writes: ReadonlyArray<Write>): AudioTimeline {
    this.owned = false
    return { tracks: this.tracks, writes }
  }
}
