/**
 * The derived files of a session folder: `transcript.json|.txt|.srt|.vtt`, `participants.json`, `chat.json` and
 * `session.json`. Each is rendered from the reducers' state and replaced in one step (written aside, then
 * renamed), so a reader or a restarted recorder never sees half a file. A recorder calls {@link write} at most
 * every few seconds while a session runs, and once when it ends; what happens in between lives in the append-only
 * files (tape, WAVs, frames).
 *
 * ```ts
 * import { Exports, Participants, SessionSummary, Transcript } from "@callstream/sinks"
 *
 * const files = Exports.render({
 *   transcript: Transcript.empty,
 *   participants: Participants.empty,
 *   summary: SessionSummary.empty("bot-1")
 * })
 * // files["transcript.txt"], files["session.json"], ...
 * ```
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import { replaceFile } from "./internal/files.js"
import * as Participants from "./Participants.js"
import type * as SessionSummary from "./SessionSummary.js"
import * as Transcript from "./Transcript.js"

/**
 * What the files are rendered from. `extra` fields are added to `session.json` as they are (e.g. audio and
 * video counts a recorder keeps).
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly transcript: Transcript.Transcript
  readonly participants: Participants.Participants
  readonly summary: SessionSummary.SessionSummary
  readonly extra?: Readonly<Record<string, unknown>> | undefined
}

/**
 * The names of the files this module writes.
 *
 * @since 0.1.0
 * @category constants
 */
export const FILES = [
  "transcript.json",
  "transcript.txt",
  "transcript.srt",
  "transcript.vtt",
  "participants.json",
  "chat.json",
  "session.json"
] as const

const json = (value: unknown): string => JSON.stringify(value, null, 2) + "\n"

/**
 * Every file's content, by file name.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (snapshot: Snapshot): Record<(typeof FILES)[number], string> => ({
  "transcript.json": json(Transcript.toJson(snapshot.transcript)),
  "transcript.txt": Transcript.toText(snapshot.transcript),
  "transcript.srt": Transcript.toSrt(snapshot.transcript),
  "transcript.vtt": Transcript.toVtt(snapshot.transcript),
  "participants.json": json(Participants.toJson(snapshot.participants)),
  "chat.json": json(Participants.chatToJson(snapshot.participants)),
  "session.json": json({ ...snapshot.summary, ...snapshot.extra })
})

/**
 * Writes every file into `directory` (which must exist).
 *
 * @since 0.1.0
 * @category writing
 */
export const write = (
  directory: string,
  snapshot: Snapshot
): Effect.Effect<void, PlatformError.PlatformError, FileSystem.FileSystem | Path.Path> =>
  Effect.flatMap(Path.Path, (path) =>
    Effect.forEach(
      Object.entries(render(snapshot)),
      ([name, text]) => replaceFile(path.join(directory, name), text),
      { discard: true }
    ))
