import { Audio, RecallEvent, type SessionEvent } from "@callstream/core"
import * as Either from "effect/Either"
import * as AudioTimeline from "../AudioTimeline.js"
import * as FrameWriter from "../FrameWriter.js"
import * as Participants from "../Participants.js"
import * as SessionSummary from "../SessionSummary.js"
import * as Transcript from "../Transcript.js"
import * as MessageCounts from "./messageCounts.js"
import * as Placement from "./placement.js"

/**
 * What a session recorder derives from the events of one session, and what one event does to it: the pure
 * reducers (summary, transcript, participants, audio timeline), the video counts, and the position of the last
 * event applied. Applying an event is synchronous and does no I/O: what has to be written (a tape line, a control
 * line, samples, a frame) goes to an {@link Output}, which the live recorder collects for its next flush and a
 * restart's replay mostly ignores.
 *
 * @internal
 */

/** @internal */
export interface VideoCounts {
  readonly frames: number
  readonly bytes: number
  readonly badFrames: number
}

/** Everything derived, at one moment (every field an immutable value, so holding it costs nothing). @internal */
export interface Snapshot {
  readonly summary: SessionSummary.SessionSummary
  readonly transcript: Transcript.Transcript
  readonly participants: Participants.Participants
  readonly timeline: AudioTimeline.AudioTimeline
  readonly video: VideoCounts
  /** The position of the last event applied (see `SessionEvent.Position`). */
  readonly position: string | undefined
  /** Events skipped because their position was at or before one already applied (a source's redelivery). */
  readonly skipped: number
}

/** @internal */
export const empty = (session: string): Snapshot => ({
  summary: SessionSummary.empty(session),
  transcript: Transcript.empty,
  participants: Participants.empty,
  timeline: AudioTimeline.empty,
  video: { frames: 0, bytes: 0, badFrames: 0 },
  position: undefined,
  skipped: 0
})

/** Where the output of one event goes. @internal */
export interface Output {
  readonly message: (message: SessionEvent.Message) => void
  readonly control: (event: SessionEvent.ControlEvent) => void
  readonly samples: (write: AudioTimeline.Write) => void
  readonly frame: (frame: FrameWriter.Frame) => void
  /** Something in the input could not be used (a bad frame); `source` names where. */
  readonly problem: (source: string, message: string) => void
}

const errorText = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

const limits: MessageCounts.Limits = {
  names: SessionSummary.UNKNOWN_EVENT_LIMIT,
  nameLength: SessionSummary.NAME_LENGTH_LIMIT
}

/**
 * The state of one session as events are applied one at a time. What changes with every message is batched: the
 * message counts are added to the summary, and the audio chunks' tracks to a new timeline, only when a snapshot is
 * read (a flush, a checkpoint), so a message costs no new summary and no new record of tracks. A snapshot equals the
 * reducers folded over the same events.
 *
 * @internal
 */
/**
 * One buffer, for every session of the process, that audio chunks are decoded into: their samples are copied into
 * the session's pending runs at once (see `Placer`), so a chunk costs no buffer of its own. An allocation per chunk
 * (16 MB a second at 500 bots) kept the collector busy, more so the longer a server ran.
 */
const scratch = Buffer.allocUnsafeSlow(256 * 1024)
const decodeIntoScratch = (event: RecallEvent.AudioEvent) => Audio.pcmInto(event, scratch)

export class SessionState {
  private cached: Snapshot | undefined
  private summary: SessionSummary.SessionSummary
  private transcript: Transcript.Transcript
  private participants: Participants.Participants
  private video: VideoCounts
  private position: string | undefined
  private skipped: number
  private readonly counter = new MessageCounts.MessageCounter(limits)
  private readonly placer: Placement.Placer

  constructor(start: Snapshot, audio: AudioTimeline.Options | undefined) {
    this.cached = start
    this.summary = start.summary
    this.transcript = start.transcript
    this.participants = start.participants
    this.video = start.video
    this.position = start.position
    this.skipped = start.skipped
    this.placer = new Placement.Placer(start.timeline.tracks, audio, decodeIntoScratch)
  }

  get snapshot(): Snapshot {
    if (this.cached === undefined) {
      if (!this.counter.isEmpty) this.summary = { ...this.summary, counts: this.counter.addTo(this.summary.counts) }
      this.cached = {
        summary: this.summary,
        transcript: this.transcript,
        participants: this.participants,
        timeline: this.placer.timeline([]),
        video: this.video,
        position: this.position,
        skipped: this.skipped
      }
    }
    return this.cached
  }

  /** Whether an event with this position was applied already (so a redelivery is skipped). */
  seen(position: string | undefined): boolean {
    return position !== undefined && this.position !== undefined && position <= this.position
  }

  /** Applies one event; false when it was skipped as a redelivery. `now` (epoch ms) stamps problems. */
  apply(item: SessionEvent.SessionEvent, now: number, out: Output): boolean {
    this.cached = undefined
    if (this.seen(item.position)) {
      this.skipped++
      return false
    }
    // the participants reducer takes control events too (a Gap closes open speech)
    this.participants = Participants.reduce(this.participants, item)
    if (item._tag === "Message") {
      out.message(item)
      const event = item.event
      this.counter.add(event)
      this.transcript = Transcript.reduce(this.transcript, event)
      if (RecallEvent.isAudioEvent(event)) {
        const writes = this.placer.add(event)
        for (let i = 0; i < writes.length; i++) out.samples(writes[i]!)
      } else if (RecallEvent.isVideoEvent(event)) {
        const frame = FrameWriter.frameOf(event)
        const video = this.video
        if (Either.isRight(frame)) {
          out.frame(frame.right)
          this.video = { ...video, frames: video.frames + 1, bytes: video.bytes + frame.right.bytes.byteLength }
        } else {
          this.video = { ...video, badFrames: video.badFrames + 1 }
          this.summary = SessionSummary.addError(this.summary, now, "video", errorText(frame.left))
          out.problem("video", errorText(frame.left))
        }
      }
    } else {
      this.summary = SessionSummary.reduce(this.summary, item)
      out.control(item)
    }
    if (item.position !== undefined) this.position = item.position
    return true
  }

  /**
   * Moves the transcript's finals that start more than `window` seconds before its latest one out of the state (see
   * `Transcript.settle`) and returns them: what the recorder keeps on disk instead of in memory.
   */
  settle(window: number): ReadonlyArray<Transcript.Utterance> {
    const finals = this.transcript.finals
    if (finals.length < 2) return []
    const { settled, state } = Transcript.settle(this.transcript, finals[finals.length - 1]!.start - window)
    if (settled.length > 0) {
      this.cached = undefined
      this.transcript = state
    }
    return settled
  }

  /**
   * Moves the participants' closed intervals that end before the latest time seen out of the state (see
   * `Participants.settle`) and returns them: what the recorder keeps on disk instead of in memory.
   */
  settleIntervals(): ReadonlyArray<Participants.SettledInterval> {
    const { settled, state } = Participants.settle(this.participants, this.participants.at)
    if (settled.length > 0) {
      this.cached = undefined
      this.participants = state
    }
    return settled
  }

  /**
   * Moves the chat messages sent more than `window` seconds before the latest time seen out of the state (see
   * `Participants.settleChat`) and returns them: what the recorder keeps on disk instead of in memory.
   */
  settleChat(window: number): ReadonlyArray<Participants.Chat> {
    const { settled, state } = Participants.settleChat(this.participants, this.participants.at - window)
    if (settled.length > 0) {
      this.cached = undefined
      this.participants = state
    }
    return settled
  }

  /** Records a problem of the recorder's own (a file that cannot be written) in the summary. */
  addError(now: number, source: string, message: string): void {
    this.cached = undefined
    this.summary = SessionSummary.addError(this.summary, now, source, message)
  }
}
