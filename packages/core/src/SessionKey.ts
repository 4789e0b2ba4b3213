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

const idOf = (ref: unknown): string | undefined => {
  if (typeof ref !== "object" || ref === null) return undefined
  const id = (ref as { readonly id?: unknown }).id
  return typeof id === "string" && id.length > 0 ? id : undefined
}

/**
 * The session key of an envelope body (`message.data`): `bot.id`, else `recording.id`. Works on the raw body of an
 * unknown event too.
 *
 * @since 0.1.0
 * @category accessors
 */
export const fromEnvelope = (body: unknown): Option.Option<SessionKey> => {
  if (typeof body !== "object" || body === null) return Option.none()
  const { bot, recording } = body as { readonly bot?: unknown; readonly recording?: unknown }
  const id = idOf(bot) ?? idOf(recording)
  return id === undefined ? Option.none() : Option.some(make(id))
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
