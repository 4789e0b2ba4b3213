/**
 * Who was in a meeting and what they did, as a pure reducer over participant events: a roster by participant id
 * (with the history of names, host flag, platform, email), presence intervals (a re-join opens another),
 * speaking, webcam and screenshare intervals, talk time and share of talk, and the chat.
 *
 * Times are meeting seconds (`timestamp.relative`). The rules for what real traffic brings:
 * - any event that names a participant puts it in the roster and updates its details (null fields never erase
 *   known ones); only `join` and activity (speech, webcam, screenshare, chat) open a presence interval, so a
 *   participant heard or seen before its join is present from that moment, and its later join changes nothing;
 * - `speech_off` without a `speech_on` (and any other "off" with nothing open) is ignored; a second "on" while
 *   one is open keeps the first;
 * - `leave` closes everything the participant had open (speaking, webcam, screenshare, presence) at its time;
 * - an interval still open is reported with `end: null` and counted up to {@link Participants.at} (the latest
 *   meeting time seen), or to the time given to {@link close} at the end of a session;
 * - an "off" stamped before its "on" (reordered delivery) closes the interval at the "on" time (length zero);
 * - a `Gap` (no connection fed the session for a while) closes open speaking intervals at the gap's start: what
 *   was said during it is unknown, and a `speech_off` lost in it would otherwise count the outage as talk.
 *   Presence, webcam and screenshare are states that usually outlast a reconnect, so they stay open.
 *
 * @example
 * ```ts
 * import { Participants } from "@callstream/sinks"
 * import { Effect, Stream } from "effect"
 *
 * const talkTimes = <E, R>(events: Stream.Stream<Participants.Input, E, R>) =>
 *   Stream.run(events, Participants.sink).pipe(
 *     Effect.map((state) => Participants.list(state).map((p) => [p.name, Participants.talkTime(state, p.key)]))
 *   )
 * ```
 *
 * @since 0.1.0
 */
import { EventStream, type RecallEvent, SessionKey } from "@callstream/core"
import * as Chunk from "effect/Chunk"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as Schema from "effect/Schema"
import * as Sink from "effect/Sink"
import * as Utils from "effect/Utils"
import * as Crypto from "node:crypto"
import * as NameRecord from "./internal/nameRecord.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Input = EventStream.Item

/**
 * A span of meeting time in seconds; `end` is null while it is open.
 *
 * @since 0.1.0
 * @category models
 */
export const Interval = Schema.Struct({ start: Schema.Number, end: Schema.NullOr(Schema.Number) })

/**
 * @since 0.1.0
 * @category models
 */
export interface Interval extends Schema.Schema.Type<typeof Interval> {}

/**
 * What one participant did. Its intervals are `Chunk`s, oldest first (the last one may be open): a meeting adds to
 * them for as long as it runs, and a `Chunk` takes another interval, or closes its last, without copying the ones
 * before (an array copied whole on every speech event cost a long meeting's recorder a copy of its whole speaking
 * history per event). Encoded (`participants.json`, checkpoints) they are arrays.
 *
 * @since 0.1.0
 * @category models
 */
export const Participant = Schema.Struct({
  key: Schema.String,
  id: Schema.NullOr(Schema.Number),
  name: Schema.NullOr(Schema.String),
  names: Schema.Array(Schema.String),
  isHost: Schema.Boolean,
  platform: Schema.NullOr(Schema.String),
  email: Schema.NullOr(Schema.String),
  extraData: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  presence: Schema.Chunk(Interval),
  speaking: Schema.Chunk(Interval),
  webcam: Schema.Chunk(Interval),
  screenshare: Schema.Chunk(Interval)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Participant extends Schema.Schema.Type<typeof Participant> {}

/**
 * A chat message.
 *
 * @since 0.1.0
 * @category models
 */
export const Chat = Schema.Struct({
  at: Schema.Number,
  participantKey: Schema.String,
  participantId: Schema.NullOr(Schema.Number),
  name: Schema.NullOr(Schema.String),
  text: Schema.String,
  to: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Chat extends Schema.Schema.Type<typeof Chat> {}

/**
 * The state of the reducer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Participants {
  /**
   * Every participant seen, by participant key. Keys are ordered as JavaScript orders an object's keys: ids that
   * are whole non-negative numbers first, ascending, then the others (`unknown`, negative or fractional ids) in
   * order of first appearance.
   */
  readonly roster: Readonly<Record<string, Participant>>
  /**
   * Chat messages, in arrival order: a Chunk (an array before 0.2.0), so a message adds one without copying the
   * chat before it (a chat can be long: a webinar's, or a participant flooding it). `chatToJson` gives the array.
   */
  readonly chat: Chunk.Chunk<Chat>
  /** The latest meeting time any event carried: open intervals are counted up to it. */
  readonly at: number
  /**
   * What {@link reduce} needs of the chat messages moved out by {@link settleChat} to recognize a repeat of one, as
   * pairs of numbers: a message's time and a 52-bit digest of it (see {@link chatDigest}), 16 bytes a message
   * instead of the message. It holds the messages a repeat is looked for among: those that no message moved out
   * after them is older than (see `hasChat`), so their times never decrease.
   *
   * @since 0.2.0
   */
  readonly settledChat?: Float64Array | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const empty: Participants = { roster: {}, chat: Chunk.empty(), at: 0 }

type Activity = "speaking" | "webcam" | "screenshare"

const blank = (participant: RecallEvent.Participant): Participant => ({
  key: SessionKey.participantKey(participant),
  id: participant.id,
  name: null,
  names: [],
  isHost: false,
  platform: null,
  email: null,
  extraData: null,
  presence: Chunk.empty(),
  speaking: Chunk.empty(),
  webcam: Chunk.empty(),
  screenshare: Chunk.empty()
})

// Whether two values parsed from JSON are equal, by value (Effect's `Equal` compares plain objects and arrays key by
// key inside a structural region). Each message's participant carries its own `extra_data` object (`{}` at the
// least, as Recall sends it), equal to the last one nearly always.
const sameJson = (a: unknown, b: unknown): boolean => Utils.structuralRegion(() => Equal.equals(a, b))

// the participant with what an event says of it; the very same object when it says nothing new (most events)
const withDetails = (current: Participant, participant: RecallEvent.Participant): Participant => {
  const name = participant.name !== null && participant.name !== "" ? participant.name : current.name
  const names = name !== null && !current.names.includes(name) ? [...current.names, name] : current.names
  const isHost = participant.is_host ?? current.isHost
  const platform = participant.platform ?? current.platform
  const email = participant.email ?? current.email
  const given = participant.extra_data ?? null
  const extraData = given === null || sameJson(given, current.extraData) ? current.extraData : given
  const same = name === current.name && names === current.names && isHost === current.isHost &&
    platform === current.platform && email === current.email && extraData === current.extraData
  return same ? current : { ...current, name, names, isHost, platform, email, extraData }
}

/**
 * Whether the last of `intervals` is still open (e.g. whether a participant is speaking now).
 *
 * @since 0.2.0
 * @category accessors
 */
export const isOpen = (intervals: Chunk.Chunk<Interval>): boolean =>
  Chunk.isNonEmpty(intervals) && Chunk.lastNonEmpty(intervals).end === null

/**
 * Intervals a Chunk holds as one flat array at most this many appends ago. A Chunk built by appends is a tree of
 * small nodes, and an interval opened and closed leaves several of them: about 320 bytes of heap per speech
 * interval, so a meeting's roster grew by some 200 bytes a second per session for as long as it lasted. Flattened
 * (`Chunk.toReadonlyArray` does it in place, for the Chunk's value does not change) every 32 intervals, a list
 * costs one array slot and its interval each, plus at most 31 intervals' nodes; the copy costs a pointer per
 * interval every 32 intervals.
 */
const FLATTEN_EVERY = 32

const open = (intervals: Chunk.Chunk<Interval>, at: number): Chunk.Chunk<Interval> => {
  if (isOpen(intervals)) return intervals
  const opened = Chunk.append(intervals, { start: at, end: null })
  if (opened.length % FLATTEN_EVERY === 0) Chunk.toReadonlyArray(opened)
  return opened
}

const shut = (intervals: Chunk.Chunk<Interval>, at: number): Chunk.Chunk<Interval> => {
  if (!Chunk.isNonEmpty(intervals)) return intervals
  const last = Chunk.lastNonEmpty(intervals)
  if (last.end !== null) return intervals
  return Chunk.append(Chunk.dropRight(intervals, 1), { start: last.start, end: Math.max(last.start, at) })
}

const present = (p: Participant, at: number): Participant =>
  isOpen(p.presence) ? p : { ...p, presence: open(p.presence, at) }

const startActivity = (p: Participant, activity: Activity, at: number): Participant => {
  const withPresence = present(p, at)
  const intervals = open(withPresence[activity], at)
  return intervals === withPresence[activity] ? withPresence : { ...withPresence, [activity]: intervals }
}

const stopActivity = (p: Participant, activity: Activity, at: number): Participant => {
  const intervals = shut(p[activity], at)
  return intervals === p[activity] ? p : { ...p, [activity]: intervals }
}

const leave = (p: Participant, at: number): Participant => {
  const closed = stopActivity(stopActivity(stopActivity(p, "speaking", at), "webcam", at), "screenshare", at)
  const presence = shut(closed.presence, at)
  return presence === closed.presence ? closed : { ...closed, presence }
}

const step = (p: Participant, event: RecallEvent.ParticipantEvent, at: number): Participant => {
  switch (event.event) {
    case "participant_events.join":
    case "participant_events.chat_message":
      return present(p, at)
    case "participant_events.leave":
      return leave(p, at)
    case "participant_events.speech_on":
      return startActivity(p, "speaking", at)
    case "participant_events.speech_off":
      return stopActivity(p, "speaking", at)
    case "participant_events.webcam_on":
      return startActivity(p, "webcam", at)
    case "participant_events.webcam_off":
      return stopActivity(p, "webcam", at)
    case "participant_events.screenshare_on":
      return startActivity(p, "screenshare", at)
    case "participant_events.screenshare_off":
      return stopActivity(p, "screenshare", at)
    case "participant_events.update":
      return p
  }
}

const stopSpeaking = (state: Participants, at: number): Participants => {
  let roster: Record<string, Participant> | undefined
  for (const [key, p] of Object.entries(state.roster)) {
    const next = stopActivity(p, "speaking", at)
    if (next !== p) (roster ??= { ...state.roster })[key] = next
  }
  return roster === undefined ? state : { ...state, roster }
}

const sameChat = (a: Chat, b: Chat): boolean =>
  a.at === b.at && a.participantKey === b.participantKey && a.text === b.text && a.to === b.to

/**
 * A 52-bit digest of a chat message: of its time, sender, text and addressee (what makes two messages the same). What
 * {@link settleChat} keeps of a message it moves out.
 *
 * @since 0.2.0
 * @category accessors
 */
export const chatDigest = (entry: Chat): number =>
  Number.parseInt(
    Crypto.hash("sha256", JSON.stringify([entry.at, entry.participantKey, entry.text, entry.to]), "hex").slice(0, 13),
    16
  )

// `settledChat` with `moved` (messages moved out, in the chat's order) taken in: each one hides the messages before it
// that are newer than it (a repeat is not looked for past an older message), which are at the end, as times never
// decrease along what is held
const withSettledChatDigests = (held: Float64Array | undefined, moved: ReadonlyArray<Chat>): Float64Array => {
  const pairs = Array.from(held ?? [])
  for (const message of moved) {
    while (pairs.length > 0 && pairs[pairs.length - 2]! > message.at) pairs.length -= 2
    pairs.push(message.at, chatDigest(message))
  }
  return Float64Array.from(pairs)
}

// whether `settledChat` holds a message the same as `entry`: among the pairs with its time (a binary search)
const isSettledChat = (pairs: Float64Array, entry: Chat): boolean => {
  let low = 0
  let high = pairs.length / 2
  while (low < high) {
    const middle = (low + high) >>> 1
    if (pairs[middle * 2]! < entry.at) low = middle + 1
    else high = middle
  }
  if (low * 2 >= pairs.length || pairs[low * 2] !== entry.at) return false
  const digest = chatDigest(entry)
  for (let i = low * 2; i < pairs.length && pairs[i] === entry.at; i += 2) {
    if (pairs[i + 1] === digest) return true
  }
  return false
}

/**
 * Whether the chat holds `entry` already. Messages come in the order of their times, so a repeat is looked for
 * among the latest, back to the first that is older than it: a few steps for each message, however long the chat
 * (looking through all of it took 1.4 ms a message once the chat held 40,000); and past the messages held, among
 * those moved out by {@link settleChat} (their digests), by the same rule, so the answer does not depend on when
 * they were moved. A repeat that comes after a message older than it (delivered out of order) is not looked for
 * past that one, and is kept as another message.
 */
const hasChat = (state: Participants, entry: Chat): boolean => {
  const chat = state.chat
  for (let i = chat.length - 1; i >= 0; i--) {
    const other = Chunk.unsafeGet(chat, i)
    if (other.at < entry.at) return false
    if (sameChat(other, entry)) return true
  }
  return state.settledChat !== undefined && isSettledChat(state.settledChat, entry)
}

/**
 * The chat is flattened into one array every this many messages (see {@link FLATTEN_EVERY}): less often than the
 * intervals, for a chat stays whole in memory and a flatten copies a pointer per message it holds.
 */
const FLATTEN_CHAT_EVERY = 1024

/**
 * The reducer: `(state, event) => state`. Returns the same object when an event changes nothing.
 *
 * @since 0.1.0
 * @category reducers
 */
export const reduce = (state: Participants, input: Input): Participants => {
  if ("_tag" in input && input._tag === "Gap") return stopSpeaking(state, input.from)
  const event = EventStream.eventOf(input)
  if (event === undefined || event.event === "unknown" || event.event === "transcript.provider_data") return state
  if (event.event === "audio_mixed_raw.data") return state
  const participant = event.data.data.participant
  const key = SessionKey.participantKey(participant)
  const known = NameRecord.get(state.roster, key)
  let p = withDetails(known ?? blank(participant), participant)
  let at = state.at
  if (event.event.startsWith("participant_events.")) {
    const pe = event as RecallEvent.ParticipantEvent
    const time = pe.data.data.timestamp.relative
    at = Math.max(at, time)
    p = step(p, pe, time)
  } else if (event.event !== "transcript.data" && event.event !== "transcript.partial_data") {
    const media = event as RecallEvent.AudioSeparateRaw | RecallEvent.VideoEvent
    at = Math.max(at, media.data.data.timestamp.relative)
  }
  let chat = state.chat
  if (event.event === "participant_events.chat_message") {
    const { data, timestamp } = event.data.data
    const entry: Chat = {
      at: timestamp.relative,
      participantKey: key,
      participantId: participant.id,
      name: p.name,
      text: data.text,
      to: data.to
    }
    if (!hasChat(state, entry)) {
      chat = Chunk.append(chat, entry)
      if (chat.length % FLATTEN_CHAT_EVERY === 0) Chunk.toReadonlyArray(chat)
    }
  }
  if (p === known && chat === state.chat && at === state.at) return state
  return { ...state, roster: p === known ? state.roster : { ...state.roster, [key]: p }, chat, at }
}

/**
 * A Sink that folds a whole Stream into the final state.
 *
 * @since 0.1.0
 * @category sinks
 */
export const sink: Sink.Sink<Participants, Input> = Sink.foldLeft(empty, reduce)

/**
 * Closes every open interval at `at` (default: the latest time seen), e.g. when a session ends.
 *
 * @since 0.1.0
 * @category reducers
 */
export const close = (state: Participants, at: number = state.at): Participants => {
  const roster = NameRecord.empty<Participant>()
  for (const [key, p] of Object.entries(state.roster)) roster[key] = leave(p, at)
  return { ...state, roster, at: Math.max(state.at, at) }
}

/**
 * The kinds of interval a participant has.
 *
 * @since 0.2.0
 * @category models
 */
export const IntervalKind = Schema.Literal("presence", "speaking", "webcam", "screenshare")

/**
 * @since 0.2.0
 * @category models
 */
export type IntervalKind = typeof IntervalKind.Type

const KINDS: ReadonlyArray<IntervalKind> = IntervalKind.literals

/**
 * A closed interval moved out of the state by {@link settle}: whose it is, which list it was in, and its span.
 *
 * @since 0.2.0
 * @category models
 */
export const SettledInterval = Schema.Struct({
  key: Schema.String,
  kind: IntervalKind,
  start: Schema.Number,
  end: Schema.Number
})

/**
 * @since 0.2.0
 * @category models
 */
export interface SettledInterval extends Schema.Schema.Type<typeof SettledInterval> {}

/**
 * Moves closed intervals that end before `before` out of the state and returns them, with the state left: for a
 * recorder that keeps only the recent part of a long meeting in memory and the rest on disk (each speech turn is an
 * interval, so a roster otherwise grows for as long as its meeting runs). From each list only its oldest intervals
 * leave, up to the first that is open or ends at `before` or later, so {@link withSettled} puts them back exactly
 * where they were. The reducer only ever changes a list's last interval, and an open one never leaves, so reducing
 * the state left gives what reducing the whole one would, less the intervals moved out. What reads intervals
 * ({@link talkTime}, {@link toJson}) counts only those held: give it {@link withSettled}'s state for the whole
 * meeting.
 *
 * @example
 * ```ts
 * import { Participants } from "@callstream/sinks"
 * import * as fs from "node:fs"
 *
 * // a reducer step that keeps the last 10 s of intervals in memory and appends older ones to a file
 * const step = (state: Participants.Participants, event: Participants.Input): Participants.Participants => {
 *   const next = Participants.reduce(state, event)
 *   const { settled, state: kept } = Participants.settle(next, next.at - 10)
 *   for (const interval of settled) fs.appendFileSync("intervals.jsonl", JSON.stringify(interval) + "\n")
 *   return kept
 * }
 * // for the exports: Participants.withSettled(state, <the lines of intervals.jsonl, parsed>)
 * ```
 *
 * @since 0.2.0
 * @category reducers
 */
export const settle = (
  state: Participants,
  before: number
): { readonly settled: ReadonlyArray<SettledInterval>; readonly state: Participants } => {
  const settled: Array<SettledInterval> = []
  let roster: Record<string, Participant> | undefined
  for (const [key, p] of Object.entries(state.roster)) {
    let next = p
    for (const kind of KINDS) {
      const intervals = Chunk.toReadonlyArray(p[kind])
      let count = 0
      while (count < intervals.length) {
        const end = intervals[count]!.end
        if (end === null || end >= before) break
        count++
      }
      if (count === 0) continue
      for (let i = 0; i < count; i++) settled.push({ key, kind, start: intervals[i]!.start, end: intervals[i]!.end! })
      // a copy of the rest: a slice of the Chunk would keep the whole array, and what left with it, alive
      next = { ...next, [kind]: Chunk.unsafeFromArray(intervals.slice(count)) }
    }
    if (next !== p) (roster ??= { ...state.roster })[key] = next
  }
  return roster === undefined ? { settled, state } : { settled, state: { ...state, roster } }
}

/**
 * The state with intervals moved out by {@link settle} put back: `settled` in the order they were moved out (calls
 * one after the other), each before the intervals its list holds. An interval of a participant the roster does not
 * have is left out.
 *
 * @since 0.2.0
 * @category reducers
 */
export const withSettled = (state: Participants, settled: Iterable<SettledInterval>): Participants => {
  const byList = new Map<string, Array<Interval>>()
  for (const interval of settled) {
    if (NameRecord.get(state.roster, interval.key) === undefined) continue
    const list = `${interval.kind}:${interval.key}`
    let intervals = byList.get(list)
    if (intervals === undefined) byList.set(list, intervals = [])
    intervals.push({ start: interval.start, end: interval.end })
  }
  if (byList.size === 0) return state
  const roster = NameRecord.empty<Participant>()
  for (const [key, p] of Object.entries(state.roster)) {
    let next = p
    for (const kind of KINDS) {
      const earlier = byList.get(`${kind}:${key}`)
      // one flat array: `Chunk.appendAll` onto a Chunk that holds a slice (what `shut` leaves) can lose elements
      // (effect 3.22, Effect-TS/effect#7616)
      if (earlier !== undefined) {
        next = { ...next, [kind]: Chunk.unsafeFromArray(earlier.concat(Chunk.toReadonlyArray(p[kind]))) }
      }
    }
    roster[key] = next
  }
  return { ...state, roster }
}

/**
 * Moves chat messages sent before `before` out of the state and returns them, in the chat's order, with the state
 * left: the chat's counterpart of {@link settle}, for a recorder that keeps a long chat (a webinar's, or a
 * participant flooding it) on disk instead of in memory. Only the chat's oldest messages leave, up to the first sent
 * at `before` or later, so {@link withSettledChat} puts them back exactly where they were; a digest of each stays
 * (see `settledChat`), so a repeat of one changes nothing, as when the chat held it. What reads the chat
 * ({@link chatToJson}) sees only the messages held: give it {@link withSettledChat}'s state for the whole meeting.
 *
 * @example
 * ```ts
 * import { Participants } from "@callstream/sinks"
 * import * as fs from "node:fs"
 *
 * // a reducer step that keeps the last 10 s of chat in memory and appends older messages to a file
 * const step = (state: Participants.Participants, event: Participants.Input): Participants.Participants => {
 *   const next = Participants.reduce(state, event)
 *   const { settled, state: kept } = Participants.settleChat(next, next.at - 10)
 *   for (const message of settled) fs.appendFileSync("chat.jsonl", JSON.stringify(message) + "\n")
 *   return kept
 * }
 * // for chat.json: Participants.chatToJson(Participants.withSettledChat(state, <the lines of chat.jsonl, parsed>))
 * ```
 *
 * @since 0.2.0
 * @category reducers
 */
export const settleChat = (
  state: Participants,
  before: number
): { readonly settled: ReadonlyArray<Chat>; readonly state: Participants } => {
  const chat = Chunk.toReadonlyArray(state.chat)
  let count = 0
  while (count < chat.length && chat[count]!.at < before) count++
  if (count === 0) return { settled: [], state }
  const settled = chat.slice(0, count)
  return {
    settled,
    // a copy of the rest: a slice of the Chunk would keep the whole array, and what left with it, alive
    state: {
      ...state,
      chat: Chunk.unsafeFromArray(chat.slice(count)),
      settledChat: withSettledChatDigests(state.settledChat, settled)
    }
  }
}

/**
 * The state with chat messages moved out by {@link settleChat} put back: `settled` in the order they were moved out
 * (calls one after the other), then the messages held.
 *
 * @since 0.2.0
 * @category reducers
 */
export const withSettledChat = (state: Participants, settled: ReadonlyArray<Chat>): Participants =>
  settled.length === 0 ? state : {
    ...state,
    chat: Chunk.unsafeFromArray(settled.concat(Chunk.toReadonlyArray(state.chat)))
  }

/**
 * A restored state told of the chat messages an earlier run moved out with {@link settleChat} (read back from where
 * it kept them): their digests are held again (see `settledChat`), so a repeat of one changes nothing, while the
 * messages themselves stay out.
 *
 * @since 0.2.0
 * @category reducers
 */
export const holdSettledChat = (state: Participants, settled: ReadonlyArray<Chat>): Participants =>
  settled.length === 0 ? state : {
    ...state,
    settledChat: withSettledChatDigests(state.settledChat, settled)
  }

// -----------------------------------------------------------------------------
// reading
// -----------------------------------------------------------------------------

/**
 * Every participant, in the order of the roster's keys (see {@link Participants}).
 *
 * @since 0.1.0
 * @category accessors
 */
export const list = (state: Participants): ReadonlyArray<Participant> => Object.values(state.roster)

/**
 * The total length of intervals, open ones counted up to `until`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const totalOf = (intervals: Iterable<Interval>, until: number): number => {
  let sum = 0
  for (const i of intervals) sum += Math.max(0, (i.end ?? Math.max(i.start, until)) - i.start)
  return sum
}

/**
 * Seconds a participant spoke (open speech counted up to the latest time seen).
 *
 * @since 0.1.0
 * @category accessors
 */
export const talkTime = (state: Participants, key: string): number => {
  const p = NameRecord.get(state.roster, key)
  return p === undefined ? 0 : totalOf(p.speaking, state.at)
}

/**
 * A participant's share of all talk time, between 0 and 1 (0 when nobody spoke).
 *
 * @since 0.1.0
 * @category accessors
 */
export const talkShare = (state: Participants, key: string): number => {
  const total = list(state).reduce((sum, p) => sum + totalOf(p.speaking, state.at), 0)
  return total === 0 ? 0 : talkTime(state, key) / total
}

// -----------------------------------------------------------------------------
// exports
// -----------------------------------------------------------------------------

/**
 * One participant as saved in `participants.json`: its details and intervals (as arrays), with totals in seconds.
 *
 * @since 0.1.0
 * @category exports
 */
export const Saved = Schema.Struct({
  ...Participant.fields,
  presence: Schema.Array(Interval),
  speaking: Schema.Array(Interval),
  webcam: Schema.Array(Interval),
  screenshare: Schema.Array(Interval),
  talkTime: Schema.Number,
  talkShare: Schema.Number,
  presentTime: Schema.Number
})

/**
 * @since 0.1.0
 * @category exports
 */
export interface Saved extends Schema.Schema.Type<typeof Saved> {}

const round3 = (n: number): number => Math.round(n * 1000) / 1000

// a participant with its intervals as arrays, what JSON holds
const withArrays = (p: Participant) => ({
  ...p,
  presence: Chunk.toReadonlyArray(p.presence),
  speaking: Chunk.toReadonlyArray(p.speaking),
  webcam: Chunk.toReadonlyArray(p.webcam),
  screenshare: Chunk.toReadonlyArray(p.screenshare)
})

/**
 * The roster as a JSON value (intervals as arrays, no totals): what {@link fromJson} reads back, for a checkpoint of
 * the state rather than the `participants.json` a reader wants.
 *
 * @since 0.2.0
 * @category exports
 */
export const rosterToJson = (state: Participants): Record<string, Schema.Schema.Encoded<typeof Participant>> => {
  const out = NameRecord.empty<Schema.Schema.Encoded<typeof Participant>>()
  for (const p of list(state)) out[p.key] = withArrays(p)
  return out
}

/**
 * The JSON value of `participants.json`: participant key to details, intervals and totals.
 *
 * @since 0.1.0
 * @category exports
 */
export const toJson = (state: Participants): Record<string, Saved> => {
  const out = NameRecord.empty<Saved>()
  const participants = list(state)
  const talk = participants.map((p) => totalOf(p.speaking, state.at))
  const allTalk = talk.reduce((sum, t) => sum + t, 0)
  participants.forEach((p, index) => {
    out[p.key] = {
      ...withArrays(p),
      talkTime: round3(talk[index]!),
      talkShare: round3(allTalk === 0 ? 0 : talk[index]! / allTalk),
      presentTime: round3(totalOf(p.presence, state.at))
    }
  })
  return out
}

/**
 * The JSON value of `chat.json`.
 *
 * @since 0.1.0
 * @category exports
 */
export const chatToJson = (state: Participants): ReadonlyArray<Chat> => Chunk.toReadonlyArray(state.chat)

const decodeRoster = Schema.decodeUnknownEither(NameRecord.schema(Participant))
const decodeChat = Schema.decodeUnknownEither(Schema.Array(Chat))

/**
 * Restores the state from the JSON of `participants.json` and `chat.json` (open intervals stay open).
 *
 * @since 0.1.0
 * @category exports
 */
export const fromJson = (participants: unknown, chat: unknown = []): Either.Either<Participants, unknown> =>
  Either.flatMap(decodeRoster(participants), (roster) =>
    Either.map(decodeChat(chat), (messages) => {
      let at = 0
      for (const p of Object.values(roster)) {
        for (const i of [...p.presence, ...p.speaking, ...p.webcam, ...p.screenshare]) {
          at = Math.max(at, i.start, i.end ?? i.start)
        }
      }
      for (const message of messages) at = Math.max(at, message.at)
      return { roster, chat: Chunk.unsafeFromArray(messages), at }
    }))
