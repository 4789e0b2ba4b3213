import { Decoder, Fixtures, type RecallEvent } from "@callstream/core"
import * as Either from "effect/Either"

/** Decodes a wire message built with core's Fixtures, failing the test when it does not decode. */
export const decode = (wire: unknown): RecallEvent.RecallEvent => {
  const decoded = Decoder.decodeEither(JSON.stringify(wire))
  if (Either.isLeft(decoded)) throw new Error(`fixture does not decode: ${decoded.left.message}`)
  return decoded.right
}

export const person = (id: number | null, name: string | null = id === null ? null : `P${id}`) =>
  Fixtures.participant({ id, name, is_host: id === 100 })

type PEvent = Exclude<
  Extract<RecallEvent.EventName, `participant_events.${string}`>,
  "participant_events.chat_message"
>

export const pe = (name: PEvent, id: number | null, at: number, who = person(id)) =>
  decode(Fixtures.participantEvent(name, { participant: who, at }))

export const said = (text: string, id: number | null, at: number, options: {
  readonly final?: boolean
  readonly who?: RecallEvent.Participant
  readonly duration?: number
} = {}) =>
  decode(Fixtures.transcript(text, {
    participant: options.who ?? person(id),
    at,
    final: options.final ?? true,
    duration: options.duration
  }))
