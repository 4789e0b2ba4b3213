/**
 * Recall.ai real-time events as Effect values: what Recall sends and what a session's Stream carries, the decoder,
 * the `EventSource` service every source implements and the combinators for its Stream, tapes, media helpers, and
 * builders of messages and whole meetings for tests.
 *
 * Tests need no other entry point: `Fixtures` and `SampleMeeting` below, and `EventSource.fromIterable` and
 * `EventSource.fromTape`, which stand in for the websocket server.
 *
 * @since 0.1.0
 */
import * as Audio from "./Audio.js"
import * as Decoder from "./Decoder.js"
import * as EventSource from "./EventSource.js"
import * as EventStream from "./EventStream.js"
import * as Fixtures from "./Fixtures.js"
import * as Media from "./Media.js"
import * as Printable from "./Printable.js"
import * as RecallEvent from "./RecallEvent.js"
import * as SampleMeeting from "./SampleMeeting.js"
import * as SessionEvent from "./SessionEvent.js"
import * as SessionKey from "./SessionKey.js"
import * as Tape from "./Tape.js"
import * as Video from "./Video.js"

export {
  /**
   * Audio events: Recall's format (16 kHz mono 16-bit PCM), an event's samples, its duration and end in meeting time.
   *
   * @since 0.1.0
   * @category media
   */
  Audio,
  /**
   * Websocket frames to `RecallEvent`s, never throwing (a failure is a `DecodeError` naming the path that was
   * wrong), and events back to wire JSON.
   *
   * @since 0.1.0
   * @category decoding
   */
  Decoder,
  /**
   * The service a pipeline depends on: one Stream of every session's `SessionEvent`s, whoever produces it (the
   * websocket server in production, a list or a tape in tests).
   *
   * @since 0.1.0
   * @category sources and streams
   */
  EventSource,
  /**
   * Operators on a Stream of events: keep some event names, split per session or per participant, drop repeats, put
   * late events back in order, find the holes in audio.
   *
   * @since 0.1.0
   * @category sources and streams
   */
  EventStream,
  /**
   * For tests: any valid Recall message in one line, with defaults for everything the test is not about.
   *
   * @since 0.1.0
   * @category testing
   */
  Fixtures,
  /**
   * What `Audio` and `Video` share: the base64 buffer of any media event decoded to bytes once, on first use.
   *
   * @since 0.1.0
   * @category media
   */
  Media,
  /**
   * Text from the wire made safe to log or print: control characters escaped, long values cut.
   *
   * @since 0.2.0
   * @category utilities
   */
  Printable,
  /**
   * What Recall sends: one Schema per websocket event (transcripts, participant events, audio, video), with the
   * types derived from them, and `UnknownEvent` for a name no schema knows.
   *
   * @since 0.1.0
   * @category events
   */
  RecallEvent,
  /**
   * For tests, demos and benchmarks: a whole synthetic meeting (three participants speaking tones, transcripts,
   * chat, webcam frames) as a tape, the same for the same seed.
   *
   * @since 0.1.0
   * @category testing
   */
  SampleMeeting,
  /**
   * What a session's Stream carries: each Recall message wrapped as a `Message`, and the control events a source adds
   * around them (session started or ended, connection opened or closed, gap, decode failure, media dropped).
   *
   * @since 0.1.0
   * @category events
   */
  SessionEvent,
  /**
   * Which meeting an event belongs to (`bot.id`, else `recording.id`; never a connection) and which participant.
   *
   * @since 0.1.0
   * @category events
   */
  SessionKey,
  /**
   * A meeting's messages as a JSON Lines file (`{ "at": seconds, "message": ... }` a line): what the recorder writes
   * and the simulator replays.
   *
   * @since 0.1.0
   * @category sources and streams
   */
  Tape,
  /**
   * Video events: a frame's bytes, whether it is a PNG and its size read from the PNG header.
   *
   * @since 0.1.0
   * @category media
   */
  Video
}
