/**
 * Live transcript: a websocket server for Recall's bots that prints every final utterance as it arrives, one line
 * each, `[mm:ss] Name: text`, with a header when a meeting starts or ends and a note for every connection gap.
 *
 *   CALLSTREAM_TOKEN=s3cret npx tsx examples/live-transcript.ts [--partials]
 *
 * Give Recall the printed URL with `?token=s3cret` appended. For a local experiment without a token, set
 * CALLSTREAM_ALLOW_UNAUTHENTICATED=true instead. Other settings (all optional): CALLSTREAM_HOST (default 0.0.0.0),
 * CALLSTREAM_PORT (default 8080, 0 for any free port), CALLSTREAM_PATH (default /ws).
 *
 * `--partials` also shows the live tail, what a speaker is saying before the final arrives: redrawn in place on a
 * terminal, as `... Name: text` lines otherwise. Ctrl-C stops the server gracefully.
 */
import type { SessionEvent } from "@callstream/core"
import { RecallServer } from "@callstream/server"
import { Transcript } from "@callstream/sinks"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Logger, LogLevel, Stream } from "effect"

const showPartials = process.argv.includes("--partials")
const tty = process.stdout.isTTY === true

// What one event adds to the screen: the finals it completed, the partial tail it changed, or a control note.
interface Output {
  readonly finals: ReadonlyArray<Transcript.Utterance>
  readonly partials: ReadonlyArray<Transcript.Utterance> | undefined
  readonly note: string | undefined
}

const step = (state: Transcript.Transcript, item: SessionEvent.SessionEvent): [Transcript.Transcript, Output] => {
  const next = Transcript.reduce(state, item)
  const note = item._tag === "SessionStarted"
    ? `=== meeting ${item.session} started ===`
    : item._tag === "SessionEnded"
    ? `=== meeting ${item.session} ended (${item.reason}) ===`
    : item._tag === "Gap"
    ? `--- no connection from ${item.from.toFixed(1)} s to ${item.to.toFixed(1)} s: what was said then is lost ---`
    : undefined
  if (next === state) return [state, { finals: [], partials: undefined, note }]
  // `utterances` fills in each speaker's latest known name (the dial-in without one gets "Participant <id>")
  const finals = Transcript.newFinals(state, next)
  const partials = next.partials === state.partials
    ? undefined
    : Transcript.utterances({ ...next, finals: [] }, { live: true })
  return [next, { finals, partials, note }]
}

// The text one event prints ("" for none), and the partial tail now shown. On a terminal the tail is a single line
// redrawn in place: wiped before anything is printed above it, then drawn again.
const render = (shown: string, output: Output): [string, string] => {
  const lines = [...(output.note === undefined ? [] : [output.note]), ...output.finals.map(Transcript.formatLine)]
  const above = lines.map((l) => `${l}\n`).join("")
  if (!showPartials) return ["", above]
  const tail = output.partials === undefined
    ? shown
    : output.partials.map((u) => `... ${u.name}: ${u.text}`).join(tty ? " | " : "\n")
  if (!tty) return [tail, above + (output.partials !== undefined && tail !== "" ? `${tail}\n` : "")]
  if (above === "" && tail === shown) return [shown, ""]
  return [tail, `\r\x1b[2K${above}${tail.slice(0, (process.stdout.columns || 120) - 1)}`]
}

const program = Effect.gen(function*() {
  const server = yield* RecallServer.RecallServer
  yield* Console.log(`live-transcript: listening on ${server.address.url}`)
  yield* Console.log(
    server.authMode === "none"
      ? "authentication is OFF (CALLSTREAM_ALLOW_UNAUTHENTICATED=true): for local experiments only"
      : "append ?token=<your CALLSTREAM_TOKEN> to that URL when you create the bot"
  )
  // one Stream per meeting, all read at once: a meeting's lines come out as soon as they arrive
  yield* server.sessions.pipe(
    Stream.flatMap(
      (session) =>
        session.events.pipe(
          Stream.mapAccum(Transcript.empty, step),
          Stream.mapAccum("", render),
          Stream.filter((text) => text !== "")
        ),
      { concurrency: "unbounded" }
    ),
    Stream.runForEach((text) => Effect.sync(() => process.stdout.write(text)))
  )
})

const needsAuth = `Set CALLSTREAM_TOKEN=<a secret> (Recall then connects to the URL with ?token=<that secret>),
or CALLSTREAM_ALLOW_UNAUTHENTICATED=true for a local experiment.`

program.pipe(
  Effect.provide(RecallServer.layerConfig()),
  Effect.catchTag(
    "RecallServerError",
    (error) =>
      Console.error(`live-transcript: ${error.message}\n${error.reason === "InvalidOptions" ? needsAuth : ""}`).pipe(
        Effect.zipRight(Effect.sync(() => (process.exitCode = 1)))
      )
  ),
  // the server logs every connection; here only warnings, so the transcript stays readable
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
