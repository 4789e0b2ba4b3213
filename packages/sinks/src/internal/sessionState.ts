import { RecallEvent, type SessionEvent } from "@callstream/core"
import * as Either from "effect/Either"
import * as AudioTimeline from "../AudioTimeline.js"
import * as FrameWriter from "../FrameWriter.js"
import * as Participants from "../Participants.js"
import * as SessionSummary from "../SessionSummary.js"
import * as Transcript from "../Transcript.js"

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

/** @internal */
export class SessionState {
  private current: Snapshot
  private readonly reduceAudio: (
    state: AudioTimeline.AudioTimeline,
    input: AudioTimeline.Input
  ) => AudioTimeline.AudioTimeline

  constructor(start: Snapshot, audio: AudioTimeline.Options | undefined) {
    this.current = start
    this.reduceAudio = AudioTimeline.reduceWith(audio)
  }

  get snapshot(): Snapshot {
    return this.current
  }

  /** Whether an event with this position was applied already (so a redelivery is skipped). */
  seen(position: string | undefined): boolean {
    return position !== undefined && this.current.position !== undefined && position <= this.current.position
  }

  /** Applies one event; false when it was skipped as a redelivery. `now` (epoch ms) stamps problems. */
  apply(item: SessionEvent.SessionEvent, now: number, out: Output): boolean {
    const s = this.current
    if (this.seen(item.position)) {
      this.current = { ...s, skipped: s.skipped + 1 }
      return false
    }
    let summary = SessionSummary.reduce(s.summary, item)
    // the participants reducer takes control events too (a Gap closes open speech)
    const participants = Participants.reduce(s.participants, item)
    let transcript = s.transcript
    let timeline = s.timeline
    let video = s.video
    if (item._tag === "Message") {
      out.message(item)
      const event = item.event
      transcript = Transcript.reduce(transcript, event)
      if (RecallEvent.isAudioEvent(event)) {
        timeline = this.reduceAudio(timeline, event)
        for (const write of timeline.writes) out.samples(write)
      } else if (RecallEvent.isVideoEvent(event)) {
        const frame = FrameWriter.frameOf(event)
        if (Either.isRight(frame)) {
          out.frame(frame.right)
          video = { ...video, frames: video.frames + 1, bytes: video.bytes + frame.right.bytes.byteLength }
        } else {
          video = { ...video, badFrames: video.badFrames + 1 }
          summary = SessionSummary.addError(summary, now, "video", errorText(frame.left))
          out.problem("video", errorText(frame.left))
        }
      }
    } else {
      out.control(item)
    }
    this.current = {
      summary,
      transcript,
      participants,
      timeline,
      video,
      position: item.position ?? s.position,
      skipped: s.skipped
    }
    return true
  }

  /** Records a problem of the recorder's own (a file that cannot be written) in the summary. */
  addError(now: number, source: string, message: string): void {
    this.current = { ...this.current, summary: SessionSummary.addError(this.current.summary, now, source, message) }
  }
}
