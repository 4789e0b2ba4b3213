import { Decoder, Fixtures, SessionEvent, SessionKey } from "@callstream/core"
import * as LogEntry from "@callstream/redis/LogEntry"
import * as Either from "effect/Either"

/** The session of the fixtures. */
export const SESSION = SessionKey.make(Fixtures.BOT_ID)

/** A Recall message as a receiver's server hands it on: decoded, with its raw text. */
export const message = (
  json: unknown,
  receivedAt: number,
  connectionId: string,
  session: SessionKey.SessionKey = SESSION
): SessionEvent.Message => {
  const raw = JSON.stringify(json)
  const decoded = Decoder.decodeEither(raw)
  if (Either.isLeft(decoded)) throw decoded.left
  return SessionEvent.message(session, decoded.right, receivedAt, { connectionId, raw })
}

/** 100 ms of mixed audio at meeting time `at` (seconds). */
export const audio = (at: number, receivedAt: number, connectionId: string, session?: SessionKey.SessionKey) =>
  message(Fixtures.audio({ at, botId: session ?? Fixtures.BOT_ID }), receivedAt, connectionId, session)

/** A final utterance at meeting time `at`. */
export const words = (
  text: string,
  at: number,
  receivedAt: number,
  connectionId: string,
  session?: SessionKey.SessionKey
) => message(Fixtures.transcript(text, { at, botId: session ?? Fixtures.BOT_ID }), receivedAt, connectionId, session)

/**
 * Writes batches as a receiver's publisher does: its sequence numbers, the chain per session and running counts.
 */
export const receiver = (name: string) => {
  let seq = 0
  const chains = new Map<string, { previous: number; counts: [number, number, number] }>()
  return (events: ReadonlyArray<SessionEvent.SessionEvent>): LogEntry.Batch => {
    const session = events[0]!.session
    const chain = chains.get(session) ?? { previous: 0, counts: [0, 0, 0] }
    for (const event of events) {
      const kind = LogEntry.kindOf(event)
      chain.counts[kind === "audio" ? 0 : kind === "video" ? 1 : 2]++
    }
    const batch: LogEntry.Batch = {
      _tag: "Batch",
      session,
      receiver: name,
      seq: ++seq,
      previous: chain.previous,
      counts: [...chain.counts],
      events
    }
    chain.previous = seq
    if (events.some((event) => event._tag === "SessionEnded")) chains.delete(session)
    else chains.set(session, chain)
    return batch
  }
}

/** A session's start as a receiver's router makes it. */
export const started = (at: number, session: SessionKey.SessionKey = SESSION) =>
  new SessionEvent.SessionStarted({
    session,
    at,
    botId: session,
    recordingId: Fixtures.RECORDING_ID,
    metadata: {}
  })

export const opened = (connectionId: string, at: number, session: SessionKey.SessionKey = SESSION) =>
  new SessionEvent.ConnectionOpened({ session, at, connectionId })

export const closed = (connectionId: string, at: number, session: SessionKey.SessionKey = SESSION) =>
  new SessionEvent.ConnectionClosed({ session, at, connectionId, code: 1006, reason: "" })

export const ended = (
  reason: "timeout" | "shutdown",
  at: number,
  session: SessionKey.SessionKey = SESSION
) => new SessionEvent.SessionEnded({ session, at, reason })

/** An event as text, to compare streams at a glance. */
export const describe = (event: SessionEvent.SessionEvent): string => {
  switch (event._tag) {
    case "Message":
      return `${event.event.event}@${event.receivedAt}`
    case "Gap":
      return `Gap ${event.from}-${event.to}`
    case "Dropped":
      return `Dropped ${event.kind} ${event.count}`
    case "ConnectionOpened":
    case "ConnectionClosed":
      return `${event._tag} ${event.connectionId}`
    case "SessionEnded":
      return `SessionEnded ${event.reason}@${event.at}`
    default:
      return event._tag
  }
}
