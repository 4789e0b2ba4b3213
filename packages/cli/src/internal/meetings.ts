/**
 * What the console of `serve` and `worker` knows about the meetings passing through: totals for the status line
 * (messages, seconds of mixed audio, media shed) and, per live meeting, the few figures its closing line gives
 * (participants, final utterances, audio, gaps, drops). It sees every event on its way to the recorder, a chunk at a
 * time, with no Effect per event; a meeting's figures are forgotten when it ends.
 *
 * @internal
 */
import * as Audio from "@callstream/core/Audio"
import * as RecallEvent from "@callstream/core/RecallEvent"
import type * as SessionEvent from "@callstream/core/SessionEvent"

/** How many distinct participant ids a meeting's count follows; past it the count says "at least". */
export const PARTICIPANT_LIMIT = 10_000

/**
 * How many live meetings are followed at once (a server holds 10 000 by default); a meeting that starts past it gets
 * its start line but no figures and no closing line.
 */
export const MEETING_LIMIT = 100_000

/** A meeting that ended, with its figures. */
export interface MeetingSummary {
  readonly session: string
  readonly botId: string | null
  readonly recordingId: string | null
  readonly reason: SessionEvent.SessionEnded["reason"]
  /** Seconds from the session's start to the last message it received (to its end when it received none). */
  readonly durationSeconds: number
  /** Distinct participant ids in participant events (the bot is one); at most {@link PARTICIPANT_LIMIT}. */
  readonly participants: number
  /** Final utterances (`transcript.data`) received. */
  readonly utterances: number
  /** Seconds of mixed audio received. */
  readonly audioSeconds: number
  /** Spans of meeting time no connection fed. */
  readonly gaps: number
  /** Media messages shed while the consumer was behind. */
  readonly drops: number
  readonly decodeFailures: number
}

/** What the console says about a chunk of events: meetings that started and meetings that ended, in order. */
export type Notice =
  | { readonly _tag: "Started"; readonly started: SessionEvent.SessionStarted }
  | { readonly _tag: "Ended"; readonly summary: MeetingSummary }

interface Live {
  readonly started: SessionEvent.SessionStarted
  lastAt: number | undefined
  readonly participants: Set<number>
  utterances: number
  audioSeconds: number
  gaps: number
  drops: number
  decodeFailures: number
}

const live = (started: SessionEvent.SessionStarted): Live => ({
  started,
  lastAt: undefined,
  participants: new Set(),
  utterances: 0,
  audioSeconds: 0,
  gaps: 0,
  drops: 0,
  decodeFailures: 0
})

/** Totals for the status line and the figures of each live meeting. */
export class Meetings {
  /** Messages seen, all meetings together. */
  messages = 0
  /** Seconds of mixed audio seen, all meetings together. */
  audioSeconds = 0
  /** Media messages shed, all meetings together. */
  drops = 0
  private readonly live = new Map<string, Live>()

  /** Meetings started and not ended. */
  get open(): number {
    return this.live.size
  }

  /** Takes a chunk of events into account and says which meetings started or ended in it. */
  observe(items: Iterable<SessionEvent.SessionEvent>): ReadonlyArray<Notice> {
    const notices: Array<Notice> = []
    for (const item of items) {
      switch (item._tag) {
        case "Message": {
          this.messages++
          const meeting = this.live.get(item.session)
          if (meeting !== undefined && (meeting.lastAt === undefined || item.receivedAt > meeting.lastAt)) {
            meeting.lastAt = item.receivedAt
          }
          this.message(item.event, meeting)
          break
        }
        case "SessionStarted":
          if (this.live.size < MEETING_LIMIT || this.live.has(item.session)) this.live.set(item.session, live(item))
          notices.push({ _tag: "Started", started: item })
          break
        case "Gap": {
          const meeting = this.live.get(item.session)
          if (meeting !== undefined) meeting.gaps++
          break
        }
        case "Dropped": {
          this.drops += item.count
          const meeting = this.live.get(item.session)
          if (meeting !== undefined) meeting.drops += item.count
          break
        }
        case "DecodeFailed": {
          const meeting = this.live.get(item.session)
          if (meeting !== undefined) meeting.decodeFailures++
          break
        }
        case "SessionEnded": {
          const meeting = this.live.get(item.session)
          if (meeting === undefined) break
          this.live.delete(item.session)
          notices.push({ _tag: "Ended", summary: summaryOf(meeting, item) })
          break
        }
      }
    }
    return notices
  }

  private message(event: RecallEvent.RecallEvent, meeting: Live | undefined): void {
    if (event.event === "audio_mixed_raw.data") {
      const seconds = Audio.durationOf(event)
      this.audioSeconds += seconds
      if (meeting !== undefined) meeting.audioSeconds += seconds
    } else if (meeting === undefined) {
      return
    } else if (event.event === "transcript.data") {
      meeting.utterances++
    } else if (RecallEvent.isParticipantEvent(event)) {
      const id = event.data.data.participant.id
      if (id !== null && meeting.participants.size < PARTICIPANT_LIMIT) meeting.participants.add(id)
    }
  }
}

const summaryOf = (meeting: Live, ended: SessionEvent.SessionEnded): MeetingSummary => ({
  session: ended.session,
  botId: meeting.started.botId,
  recordingId: meeting.started.recordingId,
  reason: ended.reason,
  durationSeconds: Math.max(0, (meeting.lastAt ?? ended.at) - meeting.started.at) / 1000,
  participants: meeting.participants.size,
  utterances: meeting.utterances,
  audioSeconds: meeting.audioSeconds,
  gaps: meeting.gaps,
  drops: meeting.drops,
  decodeFailures: meeting.decodeFailures
})
