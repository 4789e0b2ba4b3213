/**
 * Session identity. A session is one meeting as Recall records it, never one connection: every message is routed
 * by `bot.id`, falling back to `recording.id`, and per-participant media is further keyed by the participant id.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as RecallEvent from "./RecallEvent.js"

/**
 * The key of a session: the bot id, else the recording id.
 *
 * @since 0.1.0
 * @category models
 */
export const SessionKey = Schema.String.pipe(Schema.minLength(1), Schema.brand("@callstream/SessionKey"))

/**
 * @since 0.1.0
 * @category models
 */
export type SessionKey = typeof SessionKey.Type

/**
 * Makes a key from a trusted string (a bot or recording id).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (id: string): SessionKey => id as SessionKey

/**
 * The longest session key a live source accepts: Recall's ids are UUIDs, and a session holds its key for as long as
 * it lives, so a source refuses (as a decode failure) a frame whose key is longer.
 *
 * @since 0.2.0
 * @category constants
 */
export const MAX_LENGTH = 1024

/**
 * A 32-bit FNV-1a hash of a key, over its UTF-16 code units: the same on every machine, process and version. What
 * decides a session's partition in a scale-out deployment, and where in a recorder's budget its first refresh falls.
 *
 * @since 0.2.0
 * @category accessors
 */
export const hash = (key: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined

const idOf = (ref: unknown): string | null => {
  const id = field(ref, "id")
  return typeof id === "string" && id.length > 0 ? id : null
}

/**
 * The bot and recording ids an envelope body (`message.data`) names, each `null` unless it is a non-empty string.
 * Total: any value, an unknown event's raw body included, gives an answer.
 *
 * @since 0.2.0
 * @category accessors
 */
export const idsOf = (body: unknown): { readonly botId: string | null; readonly recordingId: string | null } => ({
  botId: idOf(field(body, "bot")),
  recordingId: idOf(field(body, "recording"))
})

/**
 * The session key of an envelope body (`message.data`): `bot.id`, else `recording.id`. Works on the raw body of an
 * unknown event too.
 *
 * @since 0.1.0
 * @category accessors
 */
export const fromEnvelope = (body: unknown): Option.Option<SessionKey> => {
  const id = idOf(field(body, "bot")) ?? idOf(field(body, "recording"))
  return id === null ? Option.none() : Option.some(make(id))
}

/**
 * The session key of an event. Known events always have one (their `recording` is required); an unknown event
 * has one when its body names a bot or a recording.
 *
 * @since 0.1.0
 * @category accessors
 */
export const fromEvent = (event: RecallEvent.RecallEvent): Option.Option<SessionKey> => fromEnvelope(event.data)

/**
 * The key of one participant's media within a session: the participant id as text, `"unknown"` when Recall sent
 * none. Safe to use in file names.
 *
 * @since 0.1.0
 * @category models
 */
export type ParticipantKey = string & { readonly ParticipantKey: unique symbol }

/**
 * @since 0.1.0
 * @category accessors
 */
export const participantKey = (participant: RecallEvent.Participant): ParticipantKey =>
  (participant.id === null ? "unknown" : String(participant.id)) as ParticipantKey
