/**
 * @since 0.1.0
 */
export * as Audio from "./Audio.js"
/**
 * @since 0.1.0
 */
export * as Decoder from "./Decoder.js"
/**
 * @since 0.1.0
 */
export * as EventSource from "./EventSource.js"
/**
 * @since 0.1.0
 */
export * as EventStream from "./EventStream.js"
/**
 * @since 0.1.0
 */
export * as Fixtures from "./Fixtures.js"
/**
 * @since 0.1.0
 */
export * as Media from "./Media.js"
/**
 * @since 0.2.0
 */
export * as Printable from "./Printable.js"
/**
 * @since 0.1.0
 */
export * as RecallEvent from "./RecallEvent.js"
/**
 * @since 0.1.0
 */
export * as SampleMeeting from "./SampleMeeting.js"
/**
 * @since 0.1.0
 */
export * as SessionEvent from "./SessionEvent.js"
/**
 * @since 0.1.0
 */
export * as SessionKey from "./SessionKey.js"
/**
 * @since 0.1.0
 */
export * as Tape from "./Tape.js"
/**
 * @since 0.1.0
 */
export * as Video from "./Video.js"
