/**
 * @since 0.1.0
 */
export * as Participants from "./Participants.js"
/**
 * @since 0.1.0
 */
export * as Transcript from "./Transcript.js"
