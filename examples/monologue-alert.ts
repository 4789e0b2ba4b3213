/**
 * Reacting to events: a custom Stream operator that flags monologues, a participant speaking for longer than a
 * threshold without anyone else getting a word in, and prints an alert the moment the threshold is crossed (not
 * when the monologue ends).
 *
 *   CALLSTREAM_TOKEN=s3cret npx tsx examples/monologue-alert.ts [--threshold SECONDS] [--pause SECONDS]
 *
 * `--threshold` defaults to 60 seconds. `--pause` (default 2) is how long a speaker may pause and still be on the
 * same monologue, as long as nobody else starts speaking meanwhile. Give Recall the printed URL with
 * `?token=s3cret` appended; for a local experiment without a token set CALLSTREAM_ALLOW_UNAUTHENTICATED=true
 * instead. Other settings: CALLSTREAM_HOST, CALLSTREAM_PORT (0 for any free port), CALLSTREAM_PATH. Ctrl-C stops.
 *
 * How it works: speech_on / speech_off say who speaks; every timed message (mixed audio arrives every 100 ms)
 * moves a meeting clock, so the alert fires while the speaker is still talking. The operator reads only an
 * `EventSource`, so the same code runs on a tape or a list of fixtures in a test.
 */
import { EventSource, EventStream, RecallEvent, type SessionEvent } from "@callstream/core"
import { RecallServer } from "@callstream/server"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Logger, LogLevel, Stream } from "effect"

// -----------------------------------------------------------------------------
// the operator
// -----------------------------------------------------------------------------

interface MonologueOptions {
  /** Seconds of one participant's uninterrupted speech that make a monologue. */
  readonly threshold: number
  /** Seconds a speaker may pause and still hold the floor, when nobody else speaks. */
  readonly pause: number
}

/** What the operator reports, in meeting seconds. */
type Notice =
  | { readonly _tag: "Monologue"; readonly name: string; readonly since: number; readonly at: number }
  | { readonly _tag: "MonologueEnded"; readonly name: string; readonly since: number; readonly seconds: number }
  | {
    readonly _tag: "Summary"
    readonly session: string
    readonly monologues: number
    readonly longest: { readonly name: string; readonly seconds: number } | undefined
  }

interface Floor {
  readonly key: string
  readonly name: string
  readonly since: number
  /** When the speaker went quiet, while they may still resume. */
  readonly pausedAt: number | undefined
  readonly alerted: boolean
}

interface State {
  readonly floor: Floor | undefined
  readonly now: number
  readonly monologues: number
  readonly longest: { readonly name: string; readonly seconds: number } | undefined
}

const initial: State = { floor: undefined, now: 0, monologues: 0, longest: undefined }

const nameOf = (p: RecallEvent.Participant) => p.name ?? `Participant ${p.id ?? "?"}`

/**
 * Flags monologues in ONE session's Stream (split with `EventStream.sessions` first). Pure: a `Stream.mapAccum`
 * over the events, so it needs no timers and runs the same live, on a tape or under a test clock.
 */
const monologues =
  (options: MonologueOptions) =>
  <E, R>(self: Stream.Stream<SessionEvent.SessionEvent, E, R>): Stream.Stream<Notice, E, R> => {
    // the floor is given up: report how long it was held
    const release = (state: State, at: number, out: Array<Notice>): State => {
      const floor = state.floor
      if (floor === undefined) return state
      const seconds = Math.max(0, (floor.pausedAt ?? at) - floor.since)
      if (floor.alerted) out.push({ _tag: "MonologueEnded", name: floor.name, since: floor.since, seconds })
      const longest = seconds > (state.longest?.seconds ?? -1) ? { name: floor.name, seconds } : state.longest
      return { ...state, floor: undefined, longest }
    }
    // the clock moved (or speech stopped at `at`): alert once the threshold is crossed
    const check = (state: State, at: number, out: Array<Notice>): State => {
      const floor = state.floor
      if (floor === undefined || floor.alerted || at - floor.since < options.threshold) return state
      out.push({ _tag: "Monologue", name: floor.name, since: floor.since, at })
      return { ...state, floor: { ...floor, alerted: true }, monologues: state.monologues + 1 }
    }
    const step = (state: State, item: SessionEvent.SessionEvent): [State, ReadonlyArray<Notice>] => {
      const out: Array<Notice> = []
      if (item._tag === "Gap") {
        // nobody knows what was said while disconnected: the monologue, if any, ends where the gap starts
        return [release(state, item.from, out), out]
      }
      if (item._tag === "SessionEnded") {
        const done = release(state, state.now, out)
        out.push({ _tag: "Summary", session: item.session, monologues: done.monologues, longest: done.longest })
        return [done, out]
      }
      if (item._tag !== "Message") return [state, out]
      const event = item.event
      const time = RecallEvent.relativeTimeOf(event)
      let next = state
      if (time !== undefined && time > next.now) next = { ...next, now: time }
      let floor = next.floor
      // a pause that lasted too long gives up the floor
      if (floor?.pausedAt !== undefined && next.now - floor.pausedAt > options.pause) {
        next = release(next, floor.pausedAt, out)
        floor = undefined
      }
      if (event.event === "participant_events.speech_on") {
        const { participant, timestamp } = event.data.data
        const key = String(participant.id)
        if (floor !== undefined && floor.key !== key) next = release(next, timestamp.relative, out)
        next = next.floor === undefined
          ? {
            ...next,
            floor: { key, name: nameOf(participant), since: timestamp.relative, pausedAt: undefined, alerted: false }
          }
          : { ...next, floor: { ...next.floor, pausedAt: undefined } }
      } else if (event.event === "participant_events.speech_off" || event.event === "participant_events.leave") {
        const { participant, timestamp } = event.data.data
        if (floor !== undefined && floor.key === String(participant.id) && floor.pausedAt === undefined) {
          // speech that ends past the threshold still counts, even when no message came in between
          next = check(next, timestamp.relative, out)
          next = { ...next, floor: { ...next.floor!, pausedAt: timestamp.relative } }
          if (event.event === "participant_events.leave") next = release(next, timestamp.relative, out)
        }
      } else if (floor !== undefined && floor.pausedAt === undefined) {
        next = check(next, next.now, out)
      }
      return [next, out]
    }
    return self.pipe(Stream.mapAccum(initial, step), Stream.flattenIterables)
  }

// -----------------------------------------------------------------------------
// the program
// -----------------------------------------------------------------------------

const flag = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`)
  const value = at < 0 ? fallback : Number(process.argv[at + 1])
  if (!(Number.isFinite(value) && value >= 0)) throw new Error(`--${name} needs a number of seconds`)
  return value
}

// meeting time as mm:ss.t
const clock = (seconds: number): string => {
  const tenths = Math.max(0, Math.round(seconds * 10))
  const s = Math.floor(tenths / 10)
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}.${tenths % 10}`
}

const describe = (notice: Notice, threshold: number): string => {
  switch (notice._tag) {
    case "Monologue":
      return `ALERT [${clock(notice.at)}] ${notice.name} has been speaking for ${threshold} s without interruption ` +
        `(since ${clock(notice.since)})`
    case "MonologueEnded":
      return `      [${clock(notice.since + notice.seconds)}] ${notice.name} stopped after ${
        notice.seconds.toFixed(1)
      } s`
    case "Summary":
      return `meeting ${notice.session} ended: ${notice.monologues} monologue(s) over ${threshold} s; longest turn: ` +
        (notice.longest === undefined ? "none" : `${notice.longest.name}, ${notice.longest.seconds.toFixed(1)} s`)
  }
}

const alerts = (options: MonologueOptions) =>
  Effect.gen(function*() {
    const source = yield* EventSource.EventSource
    yield* source.events.pipe(
      // Recall may send a message twice around a reconnect; a repeated speech_on must not restart anything
      EventStream.dedupe({ window: 256 }),
      EventStream.sessions(),
      Stream.flatMap(
        (session) =>
          session.events.pipe(
            Stream.tap((item) =>
              item._tag === "SessionStarted" ? Console.log(`meeting ${item.session} started`) : Effect.void
            ),
            monologues(options)
          ),
        { concurrency: "unbounded" }
      ),
      Stream.runForEach((notice) => Console.log(describe(notice, options.threshold)))
    )
  })

const options: MonologueOptions = { threshold: flag("threshold", 60), pause: flag("pause", 2) }

Effect.gen(function*() {
  const server = yield* RecallServer.RecallServer
  yield* Console.log(`monologue-alert: listening on ${server.address.url}, threshold ${options.threshold} s`)
  yield* alerts(options)
}).pipe(
  Effect.provide(RecallServer.layerConfig()),
  Effect.catchTag("RecallServerError", (error) =>
    Console.error(
      `monologue-alert: ${error.message}\n` +
        "Set CALLSTREAM_TOKEN=<a secret>, or CALLSTREAM_ALLOW_UNAUTHENTICATED=true for a local experiment."
    ).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))),
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
