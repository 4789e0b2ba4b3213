/**
 * The derived files of a session folder: `transcript.json|.txt|.srt|.vtt`, `participants.json`, `chat.json` and
 * `session.json`. Each is rendered from the reducers' state and replaced in one step (written aside, then
 * renamed), so a reader never sees half a file. A recorder refreshes them every few seconds while a session runs,
 * and once when it ends; what happens in between lives in the append-only files (tape, WAVs, frames).
 *
 * The reducers return the very same object when an event changes nothing, so {@link renderChanged} can tell from
 * the states alone which files may have changed since the last render and renders only those (the transcript's
 * text, SRT and WebVTT files, for instance, depend on its finals and speaker names only, not on the live tail).
 *
 * @example
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
export const render = (snapshot: Snapshot): Record<(typeof FILES)[number], string> =>
  renderFiles(snapshot, FILES) as Record<(typeof FILES)[number], string>

/**
 * The name of one of the files.
 *
 * @since 0.2.0
 * @category models
 */
export type FileName = (typeof FILES)[number]

/**
 * The files whose content may differ between two snapshots: all of them when there is no `previous`. A file is
 * left out when the parts of the state it is rendered from are the same objects in both.
 *
 * @since 0.2.0
 * @category rendering
 */
export const changedFiles = (previous: Snapshot | undefined, next: Snapshot): ReadonlyArray<FileName> => {
  if (previous === undefined) return FILES
  const out: Array<FileName> = []
  const t = next.transcript
  const p = next.participants
  if (t !== previous.transcript) out.push("transcript.json")
  if (t.finals !== previous.transcript.finals || t.names !== previous.transcript.names) {
    out.push("transcript.txt", "transcript.srt", "transcript.vtt")
  }
  if (p.roster !== previous.participants.roster || p.at !== previous.participants.at) out.push("participants.json")
  if (p.chat !== previous.participants.chat) out.push("chat.json")
  if (next.summary !== previous.summary || next.extra !== previous.extra) out.push("session.json")
  return out
}

const renderers: Record<FileName, (snapshot: Snapshot) => string> = {
  "transcript.json": (s) => json(Transcript.toJson(s.transcript)),
  "transcript.txt": (s) => Transcript.toText(s.transcript),
  "transcript.srt": (s) => Transcript.toSrt(s.transcript),
  "transcript.vtt": (s) => Transcript.toVtt(s.transcript),
  "participants.json": (s) => json(Participants.toJson(s.participants)),
  "chat.json": (s) => json(Participants.chatToJson(s.participants)),
  "session.json": (s) => json({ ...s.summary, ...s.extra })
}

/**
 * The named files, rendered.
 *
 * @since 0.2.0
 * @category rendering
 */
export const renderFiles = (snapshot: Snapshot, names: Iterable<FileName>): Partial<Record<FileName, string>> => {
  const out: Partial<Record<FileName, string>> = {}
  for (const name of names) out[name] = renderers[name](snapshot)
  return out
}

/**
 * The files whose content may differ between two snapshots (see {@link changedFiles}), rendered.
 *
 * @since 0.2.0
 * @category rendering
 */
export const renderChanged = (previous: Snapshot | undefined, next: Snapshot): Partial<Record<FileName, string>> =>
  renderFiles(next, changedFiles(previous, next))

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
