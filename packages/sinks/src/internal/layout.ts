import type * as AudioTimeline from "../AudioTimeline.js"
import { safeName } from "./files.js"

/**
 * The names of what a session recorder keeps in a session folder (besides the derived files of `Exports`).
 *
 * @internal
 */

/** The tape of raw messages. @internal */
export const TAPE = "events.jsonl"

/** The folder of the WAV tracks. @internal */
export const AUDIO = "audio"

/** The folder of the video frames and streams. @internal */
export const VIDEO = "video"

/** The file of an H.264 stream in a session folder: `video/<participant>/<webcam|screenshare>.h264`. @internal */
export const streamPath = (frame: { readonly folder: ReadonlyArray<string>; readonly file: string }): string =>
  [VIDEO, ...frame.folder, frame.file].join("/")

/** The WAV file of a track, inside {@link AUDIO}. @internal */
export const wavName = (track: AudioTimeline.TrackKey): string =>
  track === "mixed" ? "mixed.wav" : `participant-${safeName(track)}.wav`
