/**
 * The transcript of a meeting as a pure reducer: feed it events (bare `RecallEvent`s or a session's
 * `SessionEvent`s) and read utterances back, live or at the end.
 *
 * - Utterances belong to a participant id, never to a display name. The name shown is the latest one any event
 *   gave for that id, so a name that arrives after the words (e.g. through `participant_events.update`) is
 *   back-filled into everything already said.
 * - `transcript.partial_data` is the live tail: one interim utterance per speaker, replaced by the next partial
 *   and dropped when that speaker's final arrives. A timed partial that starts at or before the start of its
 *   speaker's latest final (one that arrives late, after its utterance became final) is not shown, also when that
 *   final was moved out of memory by {@link settle}.
 * - Every distinct final is kept exactly once, in meeting order (by start time, however late it arrives; finals
 *   with the same start in arrival order). Two finals are the same utterance only when they have the same speaker
 *   and the same words with the same times: such a repeat (Recall re-sends some) leaves the state unchanged, while
 *   a different final that happens to start at the same time is kept.
 * - A final whose words carry no timestamps (Recall documents them as nullable) is placed by arrival: after every
 *   final held so far, at the latest start.
 *
 * The reducer returns the very same state object when an event changes nothing, so a writer can tell cheaply
 * whether there is anything new to export.
 *
 * @example
 * ```ts
 * import { Transcript } from "@callstream/sinks"
 * import { Stream } from "effect"
 *
 * // the latest transcript after every event, e.g. for live captions
 * const live = <E, R>(events: Stream.Stream<Transcript.Input, E, R>) =>
 *   events.pipe(Stream.scan(Transcript.empty, Transcript.reduce), Stream.map(Transcript.toText))
 * ```
 *
 * @since 0.1.0
 */
import { EventStream, type RecallEvent, SessionKey } from "@callstream/core"
import * as Either from "effect/Either"
import * as HashSet from "effect/HashSet"
import * as Schema from "effect/Schema"
import * as Sink from "effect/Sink"
import * as Crypto from "node:crypto"
import * as NameRecord from "./internal/nameRecord.js"
import { clock } from "./internal/time.js"

/**
 * What the reducers of this package accept: a bare event, or anything a session's Stream carries.
 *
 * @since 0.1.0
 * @category models
 */
export type Input = EventStream.Item

/**
 * One word with its meeting times in seconds (null when Recall sent none).
 *
 * @since 0.1.0
 * @category models
 */
export const Word = Schema.Struct({
  text: Schema.String,
  start: Schema.NullOr(Schema.Number),
  end: Schema.NullOr(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Word extends Schema.Schema.Type<typeof Word> {}

/**
 * One utterance. `speaker` is the participant key (the id as text, `"unknown"` when Recall sent none); `name` is
 * the name the utterance itself carried, which exports replace with the latest known name of the speaker. `id`
 * follows from the speaker and the words with their times (see {@link idOf}), so a repeat of a final has its id.
 * `start` is the first word's time, or for words without times the time the utterance was placed at.
 *
 * @since 0.1.0
 * @category models
 */
export const Utterance = Schema.Struct({
  id: Schema.String,
  speaker: Schema.String,
  participantId: Schema.NullOr(Schema.Number),
  name: Schema.NullOr(Schema.String),
  text: Schema.String,
  start: Schema.Number,
  end: Schema.Number,
  languageCode: Schema.NullOr(Schema.String),
  words: Schema.Array(Word)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Utterance extends Schema.Schema.Type<typeof Utterance> {}

/**
 * The state of the reducer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transcript {
  /** Final utterances, by start time (then arrival). */
  readonly finals: ReadonlyArray<Utterance>
  /** The live tail: at most one interim utterance per speaker, by start time. */
  readonly partials: ReadonlyArray<Utterance>
  /** The latest name seen for each speaker key. */
  readonly names: Readonly<Record<string, string>>
  /**
   * The ids of the finals held (one per distinct final, see {@link idOf}): a persistent set, so adding a final
   * shares the ids already held instead of copying them (a copy per final made a long meeting quadratic).
   */
  readonly ids: HashSet.HashSet<string>
  /**
   * The finals moved out by {@link settle}, as 52 bits of each one's id (its digest part), sorted: 8 bytes a final
   * instead of a set entry, so a repeat of one is still recognized while a long meeting's memory hardly grows.
   */
  readonly settledIds?: Float64Array | undefined
  /**
   * The start (in ms) of each speaker's latest timed final, held or moved out: a timed partial of that speaker
   * that starts at or before it belongs to an utterance already final (it arrived late) and is not shown.
   *
   * @since 0.2.0
   */
  readonly finalStarts?: Readonly<Record<string, number>> | undefined
}

/**
 * The transcript before any event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: Transcript = { finals: [], partials: [], names: {}, ids: HashSet.empty() }

const ms = (seconds: number): number => Math.round(seconds * 1000)

/**
 * The id of an utterance: its speaker, the time of its first timed word in ms (`untimed` when no word has a time),
 * and a digest of its speaker and of every word with its times. Two finals share an id only when they are the same
 * utterance; their arrival, the name they carried and where an untimed one was placed play no part.
 *
 * @since 0.2.0
 * @category accessors
 */
export const idOf = (utterance: Pick<Utterance, "speaker" | "words">): string => {
  const first = utterance.words.find((word) => word.start !== null)?.start
  const digest = Crypto.hash(
    "sha256",
    JSON.stringify([utterance.speaker, utterance.words.map((w) => [w.text, w.start, w.end])]),
    "hex"
  ).slice(0, 16)
  return `${utterance.speaker}-${first === undefined || first === null ? "untimed" : ms(first)}-${digest}`
}

const isTimed = (utterance: Utterance): boolean => utterance.words.some((word) => word.start !== null)

const utteranceOf = (event: RecallEvent.TranscriptEvent, fallbackStart: number): Utterance => {
  const { language_code, participant, words } = event.data.data
  const speaker = SessionKey.participantKey(participant)
  const kept = words.map((word): Word => ({
    text: word.text,
    start: word.start_timestamp?.relative ?? null,
    end: word.end_timestamp?.relative ?? null
  }))
  let start: number | undefined
  let end: number | undefined
  for (const word of kept) {
    if (start === undefined && word.start !== null) start = word.start
    const last = word.end ?? word.start
    if (last !== null) end = last
  }
  const from = start ?? fallbackStart
  return {
    id: idOf({ speaker, words: kept }),
    speaker,
    participantId: participant.id,
    name: participant.name,
    text: kept.map((word) => word.text).join(" ").replace(/\s+/g, " ").trim(),
    start: from,
    end: Math.max(from, end ?? from),
    languageCode: language_code ?? null,
    words: kept
  }
}

const insertSorted = (list: ReadonlyArray<Utterance>, utterance: Utterance): ReadonlyArray<Utterance> => {
  let index = list.length
  while (index > 0 && list[index - 1]!.start > utterance.start) index--
  return index === list.length ? list.concat([utterance]) : list.slice(0, index).concat([utterance], list.slice(index))
}

const withName = (state: Transcript, participant: RecallEvent.Participant | undefined): Transcript => {
  if (participant === undefined || participant.name === null || participant.name === "") return state
  const key = SessionKey.participantKey(participant)
  if (NameRecord.get(state.names, key) === participant.name) return state
  return { ...state, names: NameRecord.set(state.names, key, participant.name) }
}

const latestStart = (state: Transcript): number => {
  const last = state.finals[state.finals.length - 1]
  return last === undefined ? 0 : last.start
}

/**
 * Adds one final utterance, at its place by start time (a repeat of a final already held changes nothing). Also
 * what restoring a saved transcript uses: the id is worked out again from the speaker and the words, whatever id
 * the saved utterance carried.
 *
 * @since 0.1.0
 * @category reducers
 */
export const addFinal = (state: Transcript, utterance: Utterance): Transcript =>
  addFinalWithId(state, utterance, idOf(utterance))

// `id` is `idOf(utterance)`: a final just made from an event has it already (a digest of every word: worked out
// once, not again here)
const addFinalWithId = (state: Transcript, utterance: Utterance, id: string): Transcript => {
  if (HashSet.has(state.ids, id) || isSettled(state, id)) return state
  const ids = HashSet.add(state.ids, id)
  const partials = state.partials.filter((partial) => partial.speaker !== utterance.speaker)
  const names = utterance.name !== null && NameRecord.get(state.names, utterance.speaker) === undefined
    ? NameRecord.set(state.names, utterance.speaker, utterance.name)
    : state.names
  const final = utterance.id === id ? utterance : { ...utterance, id }
  return {
    finals: insertSorted(state.finals, final),
    partials,
    names,
    ids,
    settledIds: state.settledIds,
    finalStarts: withFinalStart(state.finalStarts, final)
  }
}

// the speaker's latest final start, moved on by a timed final that starts later
const withFinalStart = (
  starts: Readonly<Record<string, number>> | undefined,
  final: Utterance
): Readonly<Record<string, number>> | undefined => {
  if (!isTimed(final)) return starts
  const at = ms(final.start)
  const before = starts === undefined ? undefined : NameRecord.get(starts, final.speaker)
  return before !== undefined && before >= at ? starts : NameRecord.set(starts ?? NameRecord.empty(), final.speaker, at)
}

// the last 13 hex digits of an id's digest: 52 bits, a number held exactly
const digestOf = (id: string): number => Number.parseInt(id.slice(-13), 16)

const isSettled = (state: Transcript, id: string): boolean => {
  const sorted = state.settledIds
  if (sorted === undefined || sorted.length === 0) return false
  const digest = digestOf(id)
  let low = 0
  let high = sorted.length - 1
  while (low <= high) {
    const middle = (low + high) >>> 1
    const value = sorted[middle]!
    if (value === digest) return true
    if (value < digest) low = middle + 1
    else high = middle - 1
  }
  return false
}

// the digests held, with those of `ids` merged in: one pass over what is held (a settle moves out a final or two,
// and sorting everything again each time made a long meeting's settles cost more and more)
const withSettledIds = (sorted: Float64Array | undefined, ids: ReadonlyArray<string>): Float64Array => {
  const held = sorted ?? new Float64Array(0)
  const added = Float64Array.from(ids, digestOf).sort()
  const next = new Float64Array(held.length + added.length)
  let from = 0
  let to = 0
  for (const digest of added) {
    while (from < held.length && held[from]! <= digest) next[to++] = held[from++]!
    next[to++] = digest
  }
  next.set(held.subarray(from), to)
  return next
}

/**
 * Moves the finals that start before `before` out of the state and returns them, in meeting order, with the state
 * left: for a recorder that keeps only the recent part of a long meeting in memory and the rest on disk. The latest
 * final always stays (an untimed final is placed at its start), and a digest of each final moved out stays (see
 * `settledIds`), so a repeat of one still changes nothing. A final that arrives later with an earlier start than
 * one moved out is held like any other and moved out by a later call; {@link withSettled} puts everything back in
 * order.
 *
 * @example
 * ```ts
 * import { Transcript } from "@callstream/sinks"
 * import * as fs from "node:fs"
 *
 * // a reducer step that keeps the last 10 s of meeting time in memory and appends older finals to a file
 * const step = (state: Transcript.Transcript, event: Transcript.Input): Transcript.Transcript => {
 *   const next = Transcript.reduce(state, event)
 *   const { settled, state: kept } = Transcript.settle(next, (next.finals.at(-1)?.start ?? 0) - 10)
 *   for (const utterance of settled) fs.appendFileSync("settled.jsonl", JSON.stringify(utterance) + "\n")
 *   return kept
 * }
 * // for the exports: Transcript.withSettled(state, <the lines of settled.jsonl, parsed>)
 * ```
 *
 * @since 0.2.0
 * @category reducers
 */
export const settle = (
  state: Transcript,
  before: number
): { readonly settled: ReadonlyArray<Utterance>; readonly state: Transcript } => {
  let count = 0
  const last = state.finals.length - 1
  while (count < last && state.finals[count]!.start < before) count++
  if (count === 0) return { settled: [], state }
  const settled = state.finals.slice(0, count)
  let ids = state.ids
  for (const utterance of settled) ids = HashSet.remove(ids, utterance.id)
  const settledIds = withSettledIds(state.settledIds, settled.map((utterance) => utterance.id))
  return { settled, state: { ...state, finals: state.finals.slice(count), ids, settledIds } }
}

/**
 * The state with finals moved out by {@link settle} put back: `settled` in the order they were moved out (calls
 * one after the other), then the state's own, all in meeting order as if they had never left (finals with the same
 * start in arrival order).
 *
 * @since 0.2.0
 * @category reducers
 */
export const withSettled = (state: Transcript, settled: ReadonlyArray<Utterance>): Transcript => {
  if (settled.length === 0) return state
  // a stable sort: among finals with the same start, one moved out earlier arrived earlier
  const finals = settled.concat(state.finals).sort((a, b) => a.start - b.start)
  return { ...state, finals }
}

/**
 * A restored state told of the finals an earlier run moved out with {@link settle} (read back from where it kept
 * them): their digests are held again (see `settledIds`), so a repeat of one changes nothing, and their speakers'
 * latest starts (see `finalStarts`), so a late partial of one stays hidden, while the finals themselves stay out.
 *
 * @since 0.2.0
 * @category reducers
 */
export const holdSettled = (state: Transcript, settled: Iterable<Utterance>): Transcript => {
  const finals = Array.from(settled)
  if (finals.length === 0) return state
  let finalStarts = state.finalStarts
  for (const final of finals) finalStarts = withFinalStart(finalStarts, final)
  return { ...state, settledIds: withSettledIds(state.settledIds, finals.map(idOf)), finalStarts }
}

// a timed partial that starts (to the ms) at or before the start of its speaker's latest timed final is of an
// utterance already final, arriving late (a speaker's utterances follow one another); it holds even when that
// final was moved out of memory
const isLate = (state: Transcript, partial: Utterance): boolean => {
  const latest = state.finalStarts === undefined ? undefined : NameRecord.get(state.finalStarts, partial.speaker)
  return latest !== undefined && ms(partial.start) <= latest
}

/**
 * The reducer: `(state, event) => state`. Usable with `Stream.scan(Transcript.empty, Transcript.reduce)`.
 *
 * @since 0.1.0
 * @category reducers
 */
export const reduce = (state: Transcript, input: Input): Transcript => {
  const event = EventStream.eventOf(input)
  if (event === undefined) return state
  switch (event.event) {
    case "transcript.data": {
      const named = withName(state, event.data.data.participant)
      const final = utteranceOf(event, latestStart(named))
      return addFinalWithId(named, final, final.id)
    }
    case "transcript.partial_data": {
      const named = withName(state, event.data.data.participant)
      const partial = utteranceOf(event, latestStart(named))
      if (isTimed(partial) && isLate(named, partial)) return named
      const current = named.partials.find((other) => other.speaker === partial.speaker)
      if (current !== undefined && current.text === partial.text && current.start === partial.start) return named
      const others = named.partials.filter((other) => other.speaker !== partial.speaker)
      return { ...named, partials: insertSorted(others, partial) }
    }
    case "participant_events.join":
    case "participant_events.update":
    case "participant_events.chat_message":
    case "participant_events.speech_on":
      return withName(state, event.data.data.participant)
    default:
      return state
  }
}

/**
 * A Sink that folds a whole Stream into its final transcript.
 *
 * @since 0.1.0
 * @category sinks
 */
export const sink: Sink.Sink<Transcript, Input> = Sink.foldLeft(empty, reduce)

// -----------------------------------------------------------------------------
// reading
// -----------------------------------------------------------------------------

/**
 * The name shown for an utterance's speaker: the latest name known for the id, else the utterance's own, else
 * `Participant <id>`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const speakerName = (state: Transcript, utterance: Utterance): string =>
  NameRecord.get(state.names, utterance.speaker) ?? utterance.name ??
    (utterance.participantId === null ? "Unknown speaker" : `Participant ${utterance.participantId}`)

/**
 * The utterances to show, names back-filled: the finals, then (with `live: true`) the partials still open.
 *
 * @since 0.1.0
 * @category accessors
 */
export const utterances = (
  state: Transcript,
  options?: { readonly live?: boolean | undefined }
): ReadonlyArray<Utterance> => {
  const shown = options?.live === true ? [...state.finals, ...state.partials] : state.finals
  return shown.map((utterance) => ({ ...utterance, name: speakerName(state, utterance) }))
}

// -----------------------------------------------------------------------------
// exports
// -----------------------------------------------------------------------------

/**
 * Options of the text exports.
 *
 * @since 0.1.0
 * @category exports
 */
export interface ExportOptions {
  /** Include the partials still open at the end (default false: finals only). */
  readonly live?: boolean | undefined
}

/**
 * Plain text, one line per utterance: `[mm:ss] Name: text`.
 *
 * @since 0.1.0
 * @category exports
 */
export const toText = (state: Transcript, options?: ExportOptions): string =>
  utterances(state, options).map((u) => `${formatLine(u)}\n`).join("")

/**
 * One utterance as the line `toText` writes: `[mm:ss] Name: text` (give it an utterance from {@link utterances}
 * or {@link newFinals}, whose names are back-filled).
 *
 * @since 0.1.0
 * @category exports
 */
export const formatLine = (utterance: Utterance): string =>
  `[${clock(utterance.start, "short")}] ${utterance.name}: ${utterance.text}`

/**
 * The finals `next` holds that `previous` did not, names back-filled: what one reducer step completed. Live
 * captions print these as they come.
 *
 * @since 0.1.0
 * @category accessors
 */
export const newFinals = (previous: Transcript, next: Transcript): ReadonlyArray<Utterance> =>
  next === previous || next.finals === previous.finals
    ? []
    : next.finals.filter((u) => !HashSet.has(previous.ids, u.id)).map((u) => ({ ...u, name: speakerName(next, u) }))

// a cue must last: players skip cues whose end is not after their start
const cueEnd = (u: Utterance): number => Math.max(u.end, u.start + 0.001)

/**
 * SubRip subtitles, one numbered cue per utterance, `Name: text`.
 *
 * @since 0.1.0
 * @category exports
 */
export const toSrt = (state: Transcript, options?: ExportOptions): string =>
  utterances(state, options).map((u, i) =>
    `${i + 1}\n${clock(u.start, "srt")} --> ${clock(cueEnd(u), "srt")}\n${u.name}: ${u.text}\n\n`
  ).join("")

const escapeVtt = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/**
 * WebVTT captions with the speaker as a voice tag: `<v Name>text`.
 *
 * @since 0.1.0
 * @category exports
 */
export const toVtt = (state: Transcript, options?: ExportOptions): string =>
  "WEBVTT\n\n" +
  utterances(state, options).map((u) =>
    `${clock(u.start, "vtt")} --> ${clock(cueEnd(u), "vtt")}\n<v ${escapeVtt(u.name ?? "")}>${escapeVtt(u.text)}\n\n`
  ).join("")

/**
 * The saved form of a transcript (`transcript.json`): the finals with names back-filled, and the live tail.
 *
 * @since 0.1.0
 * @category exports
 */
export const Saved = Schema.Struct({
  utterances: Schema.Array(Utterance),
  partials: Schema.optionalWith(Schema.Array(Utterance), { default: () => [] })
})

/**
 * @since 0.1.0
 * @category exports
 */
export interface Saved extends Schema.Schema.Type<typeof Saved> {}

/**
 * The JSON value of `transcript.json`.
 *
 * @since 0.1.0
 * @category exports
 */
export const toJson = (state: Transcript): Saved => ({
  utterances: utterances(state),
  partials: state.partials.map((utterance) => ({ ...utterance, name: speakerName(state, utterance) }))
})

const decodeSaved = Schema.decodeUnknownEither(Saved)

/**
 * Restores a transcript from the JSON of `transcript.json` (its finals and names; the live tail is not restored,
 * since the speakers' next partials or finals supersede it).
 *
 * @since 0.1.0
 * @category exports
 */
export const fromJson = (json: unknown): Either.Either<Transcript, unknown> =>
  Either.map(decodeSaved(json), (saved) => merge(empty, saved.utterances))

/**
 * Adds saved finals to a transcript (repeats ignored, order by start kept, finals with the same start in the
 * order given).
 *
 * @since 0.1.0
 * @category reducers
 */
export const merge = (state: Transcript, finals: Iterable<Utterance>): Transcript => {
  let next = state
  for (const utterance of finals) next = addFinal(next, utterance)
  return next
}
