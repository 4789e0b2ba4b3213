/**
 * Live roster: who is in each meeting right now, who is speaking, whose webcam or screenshare is on, and how long
 * each one has talked, kept up to date with the Participants reducer and `Stream.scan`.
 *
 *   CALLSTREAM_TOKEN=s3cret npx tsx examples/live-roster.ts
 *
 * On a terminal the roster is redrawn in place whenever it changes. When stdout is not a terminal (a pipe, a log
 * file) it prints one line per change instead:
 *
 *   5f0c2a7e [00:12] Ada Lovelace (host): present, speaking, webcam, 4.1 s | Grace Hopper: present, 3.4 s | ...
 *
 * Give Recall the printed URL with `?token=s3cret` appended; for a local experiment without a token set
 * CALLSTREAM_ALLOW_UNAUTHENTICATED=true instead. Other settings: CALLSTREAM_HOST, CALLSTREAM_PORT (0 for any free
 * port), CALLSTREAM_PATH. Ctrl-C stops the server gracefully.
 */
import { RecallEvent, type SessionEvent } from "@callstream/core"
import { RecallServer } from "@callstream/server"
import { Participants } from "@callstream/sinks"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Logger, LogLevel, Stream } from "effect"

const tty = process.stdout.isTTY === true

// The reducer's state, plus the meeting clock: the latest meeting time any message carried (mixed audio too), so
// the talk time of whoever is speaking keeps growing between participant events.
interface Roster {
  readonly participants: Participants.Participants
  readonly now: number
}

const step = (roster: Roster, item: SessionEvent.SessionEvent): Roster => {
  const time = item._tag === "Message" ? RecallEvent.relativeTimeOf(item.event) : undefined
  return {
    participants: Participants.reduce(roster.participants, item),
    now: time === undefined ? roster.now : Math.max(roster.now, time)
  }
}

const mmss = (seconds: number): string => {
  const s = Math.max(0, Math.floor(seconds))
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
}

interface Row {
  readonly who: string
  /** What the participant is doing: a change here is a change of the roster. */
  readonly status: ReadonlyArray<string>
  readonly talk: number
}

const rows = ({ now, participants }: Roster): ReadonlyArray<Row> =>
  Participants.list(participants).map((p) => ({
    who: `${p.name ?? `Participant ${p.id ?? "?"}`}${p.isHost ? " (host)" : ""}`,
    status: [
      Participants.isOpen(p.presence) ? "present" : "left",
      ...(Participants.isOpen(p.speaking) ? ["speaking"] : []),
      ...(Participants.isOpen(p.webcam) ? ["webcam"] : []),
      ...(Participants.isOpen(p.screenshare) ? ["screenshare"] : [])
    ],
    talk: Participants.totalOf(p.speaking, Math.max(now, participants.at))
  }))

interface View {
  readonly session: string
  readonly now: number
  readonly rows: ReadonlyArray<Row>
}

const statusKey = (view: View) => view.rows.map((row) => `${row.who}:${row.status.join(",")}`).join("|")

const asLine = (view: View): string =>
  `${view.session.slice(0, 8)} [${mmss(view.now)}] ` +
  view.rows.map((row) => `${row.who}: ${row.status.join(", ")}, ${row.talk.toFixed(1)} s`).join(" | ")

const asTable = (view: View): string =>
  [
    `meeting ${view.session} at ${mmss(view.now)}`,
    ...view.rows.map((row) =>
      `  ${row.status.includes("speaking") ? ">" : " "} ${row.who.padEnd(28)} ${row.status.join(", ").padEnd(36)} ` +
      `talk ${row.talk.toFixed(1).padStart(6)} s`
    )
  ].join("\n")

// On a terminal: every meeting's table, the whole screen redrawn. Otherwise: one line per change.
const screen = new Map<string, string>()
const show = (view: View) =>
  Effect.sync(() => {
    if (!tty) return void process.stdout.write(`${asLine(view)}\n`)
    screen.set(view.session, asTable(view))
    process.stdout.write(`\x1b[H\x1b[2J${Array.from(screen.values()).join("\n\n")}\n`)
  })

const program = Effect.gen(function*() {
  const server = yield* RecallServer.RecallServer
  yield* Console.log(`live-roster: listening on ${server.address.url}`)
  yield* server.sessions.pipe(
    Stream.flatMap(
      (session) =>
        session.events.pipe(
          Stream.scan<Roster, SessionEvent.SessionEvent>({ participants: Participants.empty, now: 0 }, step),
          Stream.map((roster): View => ({ session: session.key, now: roster.now, rows: rows(roster) })),
          Stream.filter((view) => view.rows.length > 0),
          // a terminal shows talk time growing (tenths of a second); a line is worth printing only for a new status
          Stream.changesWith((a, b) => tty ? asTable(a) === asTable(b) : statusKey(a) === statusKey(b))
        ),
      { concurrency: "unbounded" }
    ),
    Stream.runForEach(show)
  )
})

program.pipe(
  Effect.provide(RecallServer.layerConfig()),
  Effect.catchTag("RecallServerError", (error) =>
    Console.error(
      `live-roster: ${error.message}\n` +
        "Set CALLSTREAM_TOKEN=<a secret>, or CALLSTREAM_ALLOW_UNAUTHENTICATED=true for a local experiment."
    ).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))),
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
