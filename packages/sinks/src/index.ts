/**
 * What to do with a meeting's events: pure reducers (transcript, participants, audio placement, the session's
 * summary), each usable as a `Sink` or a `Stream.scan` step; writers of WAV audio, video frames, tapes and the
 * derived files; and the `SessionRecorder`, which records every session of an `EventSource` into a folder.
 *
 * @since 0.1.0
 */
import * as AudioTimeline from "./AudioTimeline.js"
import * as Exports from "./Exports.js"
import * as FrameWriter from "./FrameWriter.js"
import * as GatheredWrite from "./GatheredWrite.js"
import * as Participants from "./Participants.js"
import * as RecorderMetrics from "./RecorderMetrics.js"
import * as SessionFolder from "./SessionFolder.js"
import * as SessionRecorder from "./SessionRecorder.js"
import * as SessionSummary from "./SessionSummary.js"
import * as TapeRecorder from "./TapeRecorder.js"
import * as Transcript from "./Transcript.js"
import * as WavWriter from "./WavWriter.js"

export {
  /**
   * Where each audio chunk goes on the meeting clock, per track (mixed and per participant), so every track starts
   * at meeting time 0 and gaps become silence.
   *
   * @since 0.1.0
   * @category reducers
   */
  AudioTimeline,
  /**
   * The derived files of a session folder (transcripts, `participants.json`, `chat.json`, `session.json`), rendered
   * from the reducers and replaced in one step.
   *
   * @since 0.1.0
   * @category writers
   */
  Exports,
  /**
   * Writes video frames: each PNG to its own file named by meeting time, H.264 appended per participant and kind.
   *
   * @since 0.1.0
   * @category writers
   */
  FrameWriter,
  /**
   * Writing several buffers to a file with one call: gathered (`writev`) by files that offer it, joined first for
   * the others.
   *
   * @since 0.2.0
   * @category writers
   */
  GatheredWrite,
  /**
   * Who was in the meeting and what they did: roster by participant id, presence, speaking, webcam and screenshare
   * intervals, talk time, chat.
   *
   * @since 0.1.0
   * @category reducers
   */
  Participants,
  /**
   * The recorder's metrics (`callstream_recorder_*`), which a server's `GET /metrics` shows next to its own.
   *
   * @since 0.2.0
   * @category recording
   */
  RecorderMetrics,
  /**
   * The folder name of a session, from its key: always one safe path segment, never the same for two keys.
   *
   * @since 0.2.0
   * @category recording
   */
  SessionFolder,
  /**
   * Records every session of an `EventSource` into `DIR/<session-key>/` (tape, transcripts, roster, WAVs, frames),
   * as `callstream serve` does; a restart continues the folders.
   *
   * @since 0.1.0
   * @category recording
   */
  SessionRecorder,
  /**
   * What `session.json` says: ids, connections, gaps, drops, message counts by event, decode failures, errors.
   *
   * @since 0.1.0
   * @category reducers
   */
  SessionSummary,
  /**
   * Appends a session's messages to a tape (`events.jsonl`), as they arrived, so it can be replayed.
   *
   * @since 0.1.0
   * @category writers
   */
  TapeRecorder,
  /**
   * The transcript: utterances per participant id (a later name fills in everything said before), live partials,
   * and text, SRT, WebVTT and JSON exports.
   *
   * @since 0.1.0
   * @category reducers
   */
  Transcript,
  /**
   * A WAV file (16 kHz mono 16-bit PCM) written at sample offsets, its header patched as it grows.
   *
   * @since 0.1.0
   * @category writers
   */
  WavWriter
}
