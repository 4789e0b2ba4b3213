/**
 * Testing your own pipeline without a socket, without Recall and without waiting: write the pipeline against the
 * `EventSource` service, then feed it test sources in place of the server.
 *
 * - `EventSource.fromIterable` replays events built with `Fixtures`: each test states just what it is about.
 * - `EventSource.fromTape` replays a recorded (here: generated) meeting, paced on the Effect `Clock`; under
 *   `TestClock` a 30 s meeting plays in milliseconds, and `TestClock.adjust` moves time to any point in between.
 *
 *   npx tsx examples/test-your-pipeline.ts           # runs the checks, exits 0 when they all pass
 *   npx tsx examples/test-your-pipeline.ts --break   # a subtly broken pipeline: a check fails, exit code 1
 *
 * In your own project the same code goes into `it.effect` tests (`@effect/vitest` provides the TestClock there).
 */
import { Decoder, EventSource, EventStream, Fixtures, SampleMeeting, type SessionEvent } from "@callstream/core"
import { Participants, Transcript } from "@callstream/sinks"
import { FileSystem, Path } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Data, Effect, Either, Fiber, Ref, Stream, TestClock, TestContext } from "effect"
import * as NodeAssert from "node:assert"

// -----------------------------------------------------------------------------
// the pipeline under test: your code, which only knows the EventSource service
// -----------------------------------------------------------------------------

const broken = process.argv.includes("--break")

// the finals an event completed, with each speaker's latest known name
const newFinals = (
  state: Transcript.Transcript,
  item: SessionEvent.SessionEvent
): [Transcript.Transcript, ReadonlyArray<Transcript.Utterance>] => {
  const next = Transcript.reduce(state, item)
  return [next, Transcript.newFinals(state, next)]
}

/** Live captions: each final utterance as `[mm:ss] Name: text`, as soon as it arrives. */
const captions: Stream.Stream<string, never, EventSource.EventSource> = Stream.unwrap(
  Effect.map(EventSource.EventSource, (source) =>
    source.events.pipe(
      EventStream.sessions(),
      Stream.flatMap(
        (session) =>
          session.events.pipe(
            Stream.mapAccum(Transcript.empty, newFinals),
            Stream.flattenIterables,
            // --break: an off-by-one that drops each meeting's first utterance
            broken ? Stream.drop(1) : (self) => self,
            Stream.map(Transcript.formatLine)
          ),
        { concurrency: "unbounded" }
      )
    ))
)

/** Talk time per participant name, in seconds, once the source ends. */
const talkTimes: Effect.Effect<Record<string, number>, never, EventSource.EventSource> = Effect.flatMap(
  EventSource.EventSource,
  (source) =>
    Stream.run(source.events, Participants.sink).pipe(
      Effect.map((state) =>
        Object.fromEntries(
          Participants.list(state).map((p) => [p.name ?? `Participant ${p.id}`, Participants.talkTime(state, p.key)])
        )
      )
    )
)

// -----------------------------------------------------------------------------
// the checks
// -----------------------------------------------------------------------------

class CheckFailed extends Data.TaggedError("CheckFailed")<{ readonly name: string; readonly detail: string }> {}

const check = (name: string, actual: unknown, expected: unknown) =>
  Effect.suspend(() => {
    try {
      NodeAssert.deepStrictEqual(actual, expected)
      return Console.log(`ok - ${name}`)
    } catch (error) {
      return Effect.fail(new CheckFailed({ name, detail: error instanceof Error ? error.message : String(error) }))
    }
  })

const round1 = (record: Record<string, number>) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, Math.round(v * 10) / 10]))

// 1. Fixtures: a meeting of two sentences, stated in full in the test
const fromFixtures = Effect.gen(function*() {
  const ada = Fixtures.participant({ id: 100, name: "Ada Lovelace" })
  const grace = Fixtures.participant({ id: 200, name: "Grace Hopper", is_host: false })
  const messages = [
    Fixtures.participantEvent("participant_events.join", { participant: ada, at: 0.5 }),
    Fixtures.participantEvent("participant_events.join", { participant: grace, at: 0.8 }),
    Fixtures.speech("participant_events.speech_on", { participant: ada, at: 1 }),
    Fixtures.speech("participant_events.speech_off", { participant: ada, at: 3 }),
    Fixtures.transcript("hello everyone", { participant: ada, at: 1, duration: 2 }),
    Fixtures.speech("participant_events.speech_on", { participant: grace, at: 64 }),
    Fixtures.speech("participant_events.speech_off", { participant: grace, at: 65.5 }),
    Fixtures.transcript("let us start", { participant: grace, at: 64, duration: 1.5 })
  ]
  // what the server would hand on: decoded events (a test may add Decoder.DecodeErrors too)
  const decoded = messages.map((message) => Either.getOrThrow(Decoder.decodeEither(JSON.stringify(message))))
  const source = EventSource.fromIterable(decoded)

  const lines = yield* Stream.runCollect(captions).pipe(Effect.provide(source))
  yield* check("captions from fixtures", Array.from(lines), [
    "[00:01] Ada Lovelace: hello everyone",
    "[01:04] Grace Hopper: let us start"
  ])
  yield* check("talk time from fixtures", yield* Effect.provide(talkTimes, source), {
    "Ada Lovelace": 2,
    "Grace Hopper": 1.5
  })
})

// 2. A tape, replayed in real time on the TestClock
const fromTape = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const meeting = SampleMeeting.generate({ seed: 5, duration: 30 })
  const tape = path.join(yield* fs.makeTempDirectoryScoped({ prefix: "callstream-example-" }), "meeting.jsonl")
  yield* fs.writeFileString(tape, SampleMeeting.toJsonl(meeting))

  // what the pipeline should print: one line per turn, sent 0.8 s after the turn ends (the expected time is
  // written out here rather than taken from the formatter under test)
  const mmss = (seconds: number) =>
    `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(Math.floor(seconds) % 60).padStart(2, "0")}`
  const speakers = new Map(meeting.participants.map((p) => [p.participant.id, p.participant.name]))
  const expected = meeting.turns.map((turn) => ({
    due: turn.end + 0.8,
    prefix: `[${mmss(turn.start)}] ${speakers.get(turn.participantId) ?? `Participant ${turn.participantId}`}: `
  }))
  const prefixes = (lines: ReadonlyArray<string>) => lines.map((line) => line.slice(0, line.indexOf(": ") + 2))

  const seen = yield* Ref.make<ReadonlyArray<string>>([])
  const playing = yield* captions.pipe(
    Stream.runForEach((line) => Ref.update(seen, (lines) => [...lines, line])),
    Effect.provide(EventSource.fromTape(tape, { speed: 1 })),
    Effect.fork
  )
  // The tape is read from disk, which is real I/O: after moving the clock, give the replay a moment of real time
  // to catch up before looking (it never gets ahead of the clock: that is what is being checked).
  const realPause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const caughtUp = (count: number, tries = 400): Effect.Effect<void> =>
    Effect.flatMap(Ref.get(seen), (lines) =>
      lines.length >= count || tries === 0
        ? realPause(20) // and a little longer, so that anything early would show too
        : Effect.zipRight(realPause(5), caughtUp(count, tries - 1)))
  yield* Effect.yieldNow()

  yield* TestClock.adjust("15 seconds")
  const dueBy15 = expected.filter((e) => e.due <= 15)
  yield* caughtUp(dueBy15.length)
  yield* check(
    `after 15 s of meeting time: the ${dueBy15.length} utterances finished by then, and nothing later`,
    prefixes(yield* Ref.get(seen)),
    dueBy15.map((e) => e.prefix)
  )

  yield* TestClock.adjust("20 seconds")
  yield* Fiber.join(playing)
  yield* check(
    `after the whole meeting: all ${expected.length} utterances, in order`,
    prefixes(yield* Ref.get(seen)),
    expected.map((e) => e.prefix)
  )

  const spoken: Record<string, number> = {}
  for (const turn of meeting.turns) {
    const name = speakers.get(turn.participantId) ?? `Participant ${turn.participantId}`
    spoken[name] = (spoken[name] ?? 0) + turn.end - turn.start
  }
  // speed Infinity (the default): no clock at all, the tape as fast as it reads
  const talk = yield* Effect.provide(talkTimes, EventSource.fromTape(tape))
  yield* check("talk time from the tape", round1(talk), round1(spoken))
})

const program = Effect.gen(function*() {
  yield* fromFixtures
  yield* fromTape
  yield* Console.log("all checks passed")
}).pipe(
  Effect.scoped,
  Effect.catchTag("CheckFailed", (failure) =>
    Console.error(`not ok - ${failure.name}\n${failure.detail}`).pipe(
      Effect.zipRight(Effect.sync(() => (process.exitCode = 1)))
    ))
)

program.pipe(
  Effect.provide(TestContext.TestContext),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain
)
