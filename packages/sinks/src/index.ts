/**
 * @since 0.1.0
 */
export * as AudioTimeline from "./AudioTimeline.js"
/**
 * @since 0.1.0
 */
export * as Exports from "./Exports.js"
/**
 * @since 0.1.0
 */
export * as FrameWriter from "./FrameWriter.js"
/**
 * @since 0.1.0
 */
export * as Participants from "./Participants.js"
/**
 * The session recorder's metrics (write failures, media given up, files closed to stay within the limit).
 *
 * @since 0.2.0
 */
export * as RecorderMetrics from "./RecorderMetrics.js"
/**
 * @since 0.1.0
 */
export * as SessionRecorder from "./SessionRecorder.js"
/**
 * @since 0.2.0
 */
export * as SessionFolder from "./SessionFolder.js"
/**
 * @since 0.1.0
 */
export * as SessionSummary from "./SessionSummary.js"
/**
 * @since 0.1.0
 */
export * as TapeRecorder from "./TapeRecorder.js"
/**
 * @since 0.1.0
 */
export * as Transcript from "./Transcript.js"
/**
 * @since 0.1.0
 */
export * as WavWriter from "./WavWriter.js"
