/**
 * The words of the `serve` and `worker` consoles: the header, the line a meeting gets when it starts and when it
 * ends, and the status line, each with the fields a structured log line carries instead. Pure functions (but
 * {@link announce}, which logs the meeting lines); wire text (session keys, ids) goes through `Printable.text`.
 *
 * @internal
 */
import * as Printable from "@callstream/core/Printable"
import type * as SessionEvent from "@callstream/core/SessionEvent"
import * as SessionRecorder from "@callstream/sinks/SessionRecorder"
import type * as Path from "@effect/platform/Path"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as LogFormat from "./logFormat.js"
import type * as Meetings from "./meetings.js"

/** What the header of `serve` says. */
export interface Header {
  /** The websocket URL to give Recall. */
  readonly url: string
  /** How upgrades are authenticated, in a few words. */
  readonly auth: string
  /** Where events go: `recording into DIR` or `publishing to Redis at HOST:PORT (N partitions)`. */
  readonly destination: string
  readonly health: string
  readonly metrics: string
  /** The limits set by a flag or a variable (the rest keep the server's defaults), as `[flag, value]`. */
  readonly limits: ReadonlyArray<readonly [string, number]>
  readonly level: LogFormat.Level
  /** A suggestion for how the process is started (see `NodeFlags.tip`), if any. */
  readonly tip?: string | undefined
}

/** The header as a person reads it. */
export const header = (h: Header): string =>
  [
    "callstream is listening. Give Recall this websocket URL:",
    "",
    `  ${h.url}`,
    "",
    `auth: ${h.auth}`,
    h.destination,
    `health: GET ${h.health}, metrics: GET ${h.metrics}`,
    ...(h.limits.length === 0 ? [] : [`limits: ${h.limits.map(([flag, value]) => `--${flag} ${value}`).join(", ")}`]),
    ...(h.level === "info" ? ["log: meetings, warnings and errors (--log-level debug adds every connection)"] : []),
    ...(h.tip === undefined ? [] : [h.tip]),
    ""
  ].join("\n")

/** The header as the fields of one structured line. */
export const headerFields = (h: Header): Record<string, string | number> => {
  const fields: Record<string, string | number> = {
    url: h.url,
    auth: h.auth,
    destination: h.destination,
    health: h.health,
    metrics: h.metrics
  }
  for (const [flag, value] of h.limits) fields[flag] = value
  if (h.tip !== undefined) fields.tip = h.tip
  return fields
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

const two = (n: number) => String(n).padStart(2, "0")

/** A duration for a person: `8.4 s`, `12m 03s`, `1h 02m 03s`. */
export const duration = (seconds: number): string => {
  if (seconds < 60) return `${seconds.toFixed(1)} s`
  const whole = Math.round(seconds)
  const h = Math.floor(whole / 3600)
  const m = Math.floor((whole % 3600) / 60)
  const s = whole % 60
  return h > 0 ? `${h}h ${two(m)}m ${two(s)}s` : `${m}m ${two(s)}s`
}

/** The line of a meeting that started. */
export const meetingStarted = (started: SessionEvent.SessionStarted): string =>
  `meeting started: ${Printable.text(started.session)}` +
  (started.recordingId === null ? "" : ` (recording ${Printable.text(started.recordingId)})`)

/** The fields of a meeting that started. */
export const meetingStartedFields = (started: SessionEvent.SessionStarted): Record<string, string> => ({
  session: Printable.text(started.session),
  bot: Printable.text(started.botId ?? "none"),
  recording: Printable.text(started.recordingId ?? "none")
})

/** The line of a meeting that ended: its summary and where it went (`files in DIR`, `published to Redis`). */
export const meetingEnded = (summary: Meetings.MeetingSummary, where: string): string =>
  (summary.reason === "handover" ? "meeting handed over to another worker: " : `meeting ended (${summary.reason}): `) +
  `${Printable.text(summary.session)}, ${duration(summary.durationSeconds)}, ` +
  `${plural(summary.participants, "participant")}, ${plural(summary.utterances, "utterance")}, ` +
  `${summary.audioSeconds.toFixed(1)} s of audio, ${plural(summary.gaps, "gap")}, ${plural(summary.drops, "drop")}` +
  (summary.decodeFailures === 0 ? "" : `, ${plural(summary.decodeFailures, "bad frame")}`) +
  `; ${where}`

/** Where a recorded meeting went, for its closing line: `files in OUT/<its folder>`. */
export const filesIn = (path: Path.Path, out: string) => (session: string): string =>
  `files in ${path.join(out, SessionRecorder.folderName(session))}`

/** The fields of a meeting that ended. */
export const meetingEndedFields = (
  summary: Meetings.MeetingSummary,
  where: string
): Record<string, string | number> => ({
  session: Printable.text(summary.session),
  reason: summary.reason,
  duration_s: Math.round(summary.durationSeconds * 10) / 10,
  participants: summary.participants,
  utterances: summary.utterances,
  audio_s: Math.round(summary.audioSeconds * 10) / 10,
  gaps: summary.gaps,
  drops: summary.drops,
  decode_failures: summary.decodeFailures,
  where
})

/** What the status line shows. */
export interface Status {
  readonly sessions: number
  readonly connections: number
  readonly paused: number
  readonly messagesPerSecond: number
  readonly audioSeconds: number
  readonly drops: number
  /** How busy the (busiest) recorder thread was in the last second, 0 to 1, where one records. */
  readonly recorderBusy?: number | undefined
}

/**
 * The status line: sessions, connections, messages per second, audio; paused sockets and drops when any; how busy
 * the recorder thread is, where one records.
 */
export const statusLine = (s: Status): string =>
  `sessions ${s.sessions}  connections ${s.connections}  messages/s ${Math.round(s.messagesPerSecond)}  ` +
  `audio ${s.audioSeconds.toFixed(1)} s` +
  (s.paused === 0 ? "" : `  paused ${s.paused}`) +
  (s.drops === 0 ? "" : `  drops ${s.drops}`) +
  (s.recorderBusy === undefined ? "" : `  recorder busy ${Math.round(100 * s.recorderBusy)}%`)

/**
 * The observer of a command's events: it keeps `meetings` up to date and logs one line when a meeting starts and
 * one when it ends, with its summary and `where(session)` it went. Only a meeting's start or end costs an Effect.
 */
export const announce =
  (meetings: Meetings.Meetings, where: (session: string) => string) =>
  (items: Chunk.Chunk<SessionEvent.SessionEvent>): Effect.Effect<void> => {
    const notices = meetings.observe(items)
    if (notices.length === 0) return Effect.void
    return Effect.forEach(notices, (notice) =>
      notice._tag === "Started"
        ? Effect.logInfo(meetingStarted(notice.started)).pipe(
          Effect.annotateLogs(meetingStartedFields(notice.started))
        )
        : Effect.logInfo(meetingEnded(notice.summary, where(notice.summary.session))).pipe(
          Effect.annotateLogs(meetingEndedFields(notice.summary, where(notice.summary.session)))
        ), { discard: true })
  }
