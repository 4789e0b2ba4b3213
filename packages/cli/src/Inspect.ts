/**
 * `callstream inspect`: what is in a tape or a recorded session folder, per session: participants with talk time,
 * utterances, seconds of audio, gaps and drops, messages by event.
 *
 * @since 0.1.0
 */
import { Audio, EventSource, EventStream, type SessionEvent } from "@callstream/core"
import { Participants, SessionSummary, Transcript } from "@callstream/sinks"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Table from "./internal/table.js"

/**
 * The target could not be read as a tape or a session folder.
 *
 * @since 0.1.0
 * @category errors
 */
export class InspectError extends Data.TaggedError("InspectError")<{
  readonly reason: "Unreadable" | "NotATapeOrFolder"
  readonly message: string
}> {}

/**
 * One participant in a summary.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParticipantSummary {
  readonly id: number | null
  readonly name: string
  readonly talkSeconds: number
  readonly talkShare: number
}

/**
 * One session in a summary.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly session: string
  readonly messages: number
  readonly byEvent: Readonly<Record<string, number>>
  readonly unknownEvents: number
  readonly decodeFailures: number
  readonly participants: ReadonlyArray<ParticipantSummary>
  readonly utterances: number
  readonly audioSeconds: { readonly mixed: number; readonly separate: Readonly<Record<string, number>> }
  readonly gaps: ReadonlyArray<{ readonly from: number; readonly to: number; readonly track: string }>
  readonly drops: ReadonlyArray<{ readonly kind: string; readonly count: number }>
}

// counts, gaps and drops come from the same reducer that writes session.json; inspect adds what a person asks
// first: who spoke how long, how many utterances, how much audio, and holes in the mixed track
interface Acc {
  summary: SessionSummary.SessionSummary
  participants: Participants.Participants
  transcript: Transcript.Transcript
  mixed: number
  separate: Record<string, number>
  audioGaps: Array<{ from: number; to: number; track: string }>
}

const emptyAcc = (session: string): Acc => ({
  summary: SessionSummary.empty(session),
  participants: Participants.empty,
  transcript: Transcript.empty,
  mixed: 0,
  separate: {},
  audioGaps: []
})

const step = (acc: Acc, item: SessionEvent.SessionEvent | EventStream.AudioGap): Acc => {
  if (EventStream.isAudioGap(item)) {
    // a participant's own track pauses whenever they are muted: only holes in the mixed track are lost audio
    if (item.participant === "mixed") acc.audioGaps.push({ from: item.start, to: item.end, track: "mixed" })
    return acc
  }
  acc.summary = SessionSummary.reduce(acc.summary, item)
  acc.participants = Participants.reduce(acc.participants, item)
  acc.transcript = Transcript.reduce(acc.transcript, item)
  if (item._tag === "Message") {
    const event = item.event
    if (event.event === "audio_mixed_raw.data") acc.mixed += Audio.durationOf(event)
    if (event.event === "audio_separate_raw.data") {
      const key = String(event.data.data.participant.id)
      acc.separate[key] = (acc.separate[key] ?? 0) + Audio.durationOf(event)
    }
  }
  return acc
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits

const summarise = (session: string, acc: Acc): Summary => {
  const participants = Participants.close(acc.participants)
  const { counts, drops, gaps } = acc.summary
  return {
    session,
    messages: counts.messages,
    byEvent: counts.byEvent,
    unknownEvents: Object.values(counts.unknownEvents).reduce((n, c) => n + c, counts.unlistedUnknownEvents),
    decodeFailures: counts.decodeFailures,
    participants: Participants.list(participants).map((p) => ({
      id: p.id,
      name: p.name ?? (p.id === null ? "unknown" : `Participant ${p.id}`),
      talkSeconds: round(Participants.talkTime(participants, p.key)),
      talkShare: round(Participants.talkShare(participants, p.key), 3)
    })),
    utterances: acc.transcript.finals.length,
    audioSeconds: {
      mixed: round(acc.mixed, 3),
      separate: Object.fromEntries(Object.entries(acc.separate).map(([k, v]) => [k, round(v, 3)]))
    },
    gaps: [...acc.audioGaps, ...gaps.map((g) => ({ from: g.from, to: g.to, track: "connection" }))].map((g) => ({
      ...g,
      from: round(g.from, 3),
      to: round(g.to, 3)
    })),
    drops: drops.map((d) => ({ kind: d.kind, count: d.count }))
  }
}

/**
 * Summarises every session of a tape.
 *
 * @since 0.1.0
 * @category summaries
 */
export const tape = (
  file: string
): Effect.Effect<ReadonlyArray<Summary>, InspectError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const sessions = new Map<string, Acc>()
    yield* EventSource.tapeEvents(file).pipe(
      EventStream.withAudioGaps(),
      Stream.runForEach((item) =>
        Effect.sync(() => {
          const key = item.session
          let acc = sessions.get(key)
          if (acc === undefined) sessions.set(key, acc = emptyAcc(key))
          step(acc, item)
        })
      ),
      Effect.mapError((cause) => new InspectError({ reason: "Unreadable", message: `${file}: ${cause.message}` }))
    )
    return Array.from(sessions, ([key, acc]) => summarise(key, acc))
  })

/**
 * Summarises a session folder written by `serve` (its `events.jsonl`, with the gaps, drops and decode failures
 * that only `session.json` knows), or every session folder inside an output folder.
 *
 * @since 0.1.0
 * @category summaries
 */
export const folder = (
  dir: string
): Effect.Effect<ReadonlyArray<Summary>, InspectError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const unreadable = (e: { readonly message: string }) =>
      new InspectError({ reason: "Unreadable", message: e.message })
    const tapeFile = path.join(dir, "events.jsonl")
    if (!(yield* fs.exists(tapeFile).pipe(Effect.mapError(unreadable)))) {
      const entries = yield* fs.readDirectory(dir).pipe(Effect.mapError(unreadable))
      const nested: Array<Summary> = []
      for (const entry of entries.sort()) {
        if (yield* fs.exists(path.join(dir, entry, "events.jsonl")).pipe(Effect.mapError(unreadable))) {
          nested.push(...(yield* folder(path.join(dir, entry))))
        }
      }
      if (nested.length === 0) {
        return yield* new InspectError({
          reason: "NotATapeOrFolder",
          message: `${dir} holds no events.jsonl, and no session folder with one`
        })
      }
      return nested
    }
    const summaries = yield* tape(tapeFile)
    const sessionFile = path.join(dir, "session.json")
    if (!(yield* fs.exists(sessionFile).pipe(Effect.mapError(unreadable)))) return summaries
    const saved = yield* fs.readFileString(sessionFile).pipe(
      Effect.mapError(unreadable),
      Effect.flatMap((text) =>
        Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => unreadable({ message: String(e) }) })
      ),
      Effect.flatMap((json) => SessionSummary.fromJson(json)),
      Effect.mapError((e) => new InspectError({ reason: "Unreadable", message: `${sessionFile}: ${String(e)}` }))
    )
    return summaries.map((s) => ({
      ...s,
      gaps: [...s.gaps, ...saved.gaps.map((g) => ({ from: g.from, to: g.to, track: "connection" }))],
      drops: [...s.drops, ...saved.drops.map((d) => ({ kind: d.kind, count: d.count }))],
      decodeFailures: Math.max(s.decodeFailures, saved.counts.decodeFailures)
    }))
  })

/**
 * Renders summaries as text tables.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (summaries: ReadonlyArray<Summary>): string => {
  if (summaries.length === 0) return "no sessions\n"
  return summaries.map((s) => {
    const lines = [
      `session ${s.session}`,
      `  messages ${s.messages} (unknown events ${s.unknownEvents}, decode failures ${s.decodeFailures})`,
      `  utterances ${s.utterances}`,
      `  audio: mixed ${s.audioSeconds.mixed.toFixed(1)} s` +
      Object.entries(s.audioSeconds.separate).map(([k, v]) => `, participant ${k} ${v.toFixed(1)} s`).join(""),
      `  gaps ${s.gaps.length}` +
      (s.gaps.length === 0 ? "" : `: ${s.gaps.map((g) => `${g.track} ${g.from}-${g.to} s`).join(", ")}`),
      `  drops ${s.drops.reduce((n, d) => n + d.count, 0)}`,
      "",
      Table.render(
        ["participant", "name", "talk s", "share"],
        s.participants.map((p) => [
          String(p.id),
          p.name,
          p.talkSeconds.toFixed(1),
          `${(p.talkShare * 100).toFixed(0)}%`
        ])
      ),
      Table.render(
        ["event", "messages"],
        Object.entries(s.byEvent).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, String(v)])
      )
    ]
    return lines.join("\n")
  }).join("\n")
}

/**
 * The command's handler.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (
  options: { readonly target: string; readonly json: boolean }
): Effect.Effect<void, InspectError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(options.target).pipe(
      Effect.mapError((e) => new InspectError({ reason: "Unreadable", message: e.message }))
    )
    const summaries = info.type === "Directory" ? yield* folder(options.target) : yield* tape(options.target)
    yield* Console.log(options.json ? JSON.stringify(summaries, null, 2) : render(summaries))
  })
