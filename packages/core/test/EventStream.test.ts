import { Decoder, EventSource, EventStream, RecallEvent, SessionEvent, SessionKey } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

// -----------------------------------------------------------------------------
// builders: wire-shaped events, typed as the decoder would give them
// -----------------------------------------------------------------------------

const ref = (id: string) => ({ id, metadata: {} })

const person = (id: number | null): RecallEvent.Participant => ({
  id,
  name: id === null ? null : `person ${id}`,
  is_host: false,
  platform: "desktop",
  extra_data: {}
})

const ts = (relative: number): RecallEvent.Timestamp => ({
  relative,
  absolute: new Date(Date.UTC(2026, 10, 20, 15) + relative * 1000).toISOString()
})

const origin = (bot: string) => ({ recording: ref(`recording-${bot}`), bot: ref(bot) })

type ParticipantEventName = RecallEvent.ParticipantEvent["event"]

const said = <N extends Exclude<ParticipantEventName, "participant_events.chat_message">>(
  name: N,
  id: number | null,
  at: number,
  bot = "bot-1"
) =>
  ({
    event: name,
    data: {
      data: { participant: person(id), timestamp: ts(at), data: null },
      ...origin(bot),
      participant_events: ref("pe")
    }
  }) as RecallEvent.EventOf<N>

const chat = (id: number, at: number, text: string, bot = "bot-1"): RecallEvent.ChatMessageEvent => ({
  event: "participant_events.chat_message",
  data: {
    data: { participant: person(id), timestamp: ts(at), data: { text, to: "everyone" } },
    ...origin(bot),
    participant_events: ref("pe")
  }
})

const transcript = (
  name: "transcript.data" | "transcript.partial_data",
  id: number,
  words: ReadonlyArray<readonly [string, number, number]>,
  bot = "bot-1"
): RecallEvent.TranscriptEvent => ({
  event: name,
  data: {
    data: {
      participant: person(id),
      words: words.map(([text, start, end]) => ({
        text,
        start_timestamp: { relative: start },
        end_timestamp: { relative: end }
      }))
    },
    ...origin(bot),
    transcript: ref("tr")
  }
})

const pcm = (bytes: number) => Buffer.alloc(bytes).toString("base64")

const mixed = (at: number, bytes: number, bot = "bot-1"): RecallEvent.AudioMixedRaw => ({
  event: "audio_mixed_raw.data",
  data: { data: { buffer: pcm(bytes), timestamp: ts(at) }, ...origin(bot), audio_mixed: ref("am") }
})

const separate = (id: number | null, at: number, bytes: number, bot = "bot-1"): RecallEvent.AudioSeparateRaw => ({
  event: "audio_separate_raw.data",
  data: {
    data: { buffer: pcm(bytes), timestamp: ts(at), participant: person(id) },
    ...origin(bot),
    audio_separate: ref("as")
  }
})

const frame = (id: number, at: number, type: RecallEvent.VideoType): RecallEvent.VideoSeparatePng => ({
  event: "video_separate_png.data",
  data: {
    data: { buffer: "iVBORw0KGgo=", timestamp: ts(at), type, participant: person(id) },
    ...origin("bot-1"),
    video_separate: ref("vs")
  }
})

const provider = (payload: unknown): RecallEvent.TranscriptProviderData => ({
  event: "transcript.provider_data",
  data: { data: { data: { payload } }, ...origin("bot-1"), transcript: ref("tr") }
})

const unknown = (name: string, data: unknown): RecallEvent.UnknownEvent => ({ event: "unknown", name, data })

const message = (event: RecallEvent.RecallEvent, session = "bot-1") =>
  SessionEvent.message(SessionKey.make(session), event, 0)

const ended = (session = "bot-1") =>
  new SessionEvent.SessionEnded({ session: SessionKey.make(session), at: 0, reason: "completed" })

const collect = <A, E>(stream: Stream.Stream<A, E>) => Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

/** What the source built from these events would emit, as one flat Stream. */
const sourceOf = (events: ReadonlyArray<RecallEvent.RecallEvent>) =>
  Stream.unwrap(Effect.map(EventSource.EventSource, (source) => source.events)).pipe(
    Stream.provideLayer(EventSource.fromIterable(events))
  )

const timeOf = (item: EventStream.Item) => {
  const event = EventStream.eventOf(item)
  return event === undefined ? undefined : RecallEvent.relativeTimeOf(event)
}

describe("builders", () => {
  it("build what the decoder accepts unchanged", () => {
    const events: ReadonlyArray<RecallEvent.RecallEvent> = [
      said("participant_events.join", 100, 1),
      chat(100, 2, "hi"),
      transcript("transcript.data", 100, [["hello", 1, 1.5]]),
      mixed(0, 3200),
      separate(100, 0, 3200),
      frame(100, 1, "webcam"),
      provider({ raw: true })
    ]
    for (const event of events) {
      const decoded = Decoder.decodeJsonEither(JSON.parse(JSON.stringify(event)))
      assert.isTrue(Either.isRight(decoded), event.event)
      assert.deepStrictEqual(Either.getOrThrow(decoded), event)
    }
  })
})

// -----------------------------------------------------------------------------

describe("filterEvents", () => {
  const events: ReadonlyArray<RecallEvent.RecallEvent> = [
    said("participant_events.join", 100, 0),
    transcript("transcript.data", 100, [["hi", 1, 2]]),
    mixed(1, 3200),
    unknown("bot.status_change", { code: "in_call" }),
    said("participant_events.speech_on", 100, 3),
    transcript("transcript.partial_data", 100, [["yo", 4, 5]])
  ]

  it.effect("keeps the named events, in order, with a narrowed type", () =>
    Effect.gen(function*() {
      const kept = yield* Stream.fromIterable(events).pipe(
        EventStream.filterEvents("transcript.data", "participant_events.speech_on"),
        collect
      )
      assert.deepStrictEqual(kept.map((event) => event.event), ["transcript.data", "participant_events.speech_on"])
      // The element type is the union of the two events: this reads fields only they have.
      const participants: ReadonlyArray<number | null> = kept.map((event) => event.data.data.participant.id)
      assert.deepStrictEqual(participants, [100, 100])
    }))

  it.effect("works data-first and keeps unknown events when asked", () =>
    Effect.gen(function*() {
      const kept = yield* collect(EventStream.filterEvents(Stream.fromIterable(events), "unknown"))
      assert.deepStrictEqual(kept.map((event) => event.name), ["bot.status_change"])
    }))

  it.effect("filterMessages keeps only Messages of the named events", () =>
    Effect.gen(function*() {
      const kept = yield* sourceOf(events).pipe(EventStream.filterMessages("transcript.partial_data"), collect)
      assert.strictEqual(kept.length, 1)
      assert.strictEqual(kept[0]!._tag, "Message")
      assert.deepStrictEqual(kept[0]!.event.data.data.words.map((word) => word.text), ["yo"])
    }))
})

// -----------------------------------------------------------------------------

describe("sessions", () => {
  const byKey = <A extends { readonly key: string }>(items: ReadonlyArray<A>) =>
    [...items].sort((a, b) => a.key.localeCompare(b.key))

  const collectSessions = <E>(stream: Stream.Stream<EventStream.Session<SessionEvent.SessionEvent, E>, E>) =>
    stream.pipe(
      Stream.flatMap(
        (session) => Stream.fromEffect(Effect.map(collect(session.events), (events) => ({ key: session.key, events }))),
        { concurrency: "unbounded" }
      ),
      collect,
      Effect.map(byKey)
    )

  it.effect("splits interleaved meetings, each in its own order, ending with SessionEnded", () =>
    Effect.gen(function*() {
      const events = [
        said("participant_events.join", 100, 0, "bot-a"),
        said("participant_events.join", 200, 0, "bot-b"),
        said("participant_events.speech_on", 100, 1, "bot-a"),
        said("participant_events.speech_on", 200, 1, "bot-b"),
        said("participant_events.leave", 100, 2, "bot-a")
      ]
      const split = yield* collectSessions(EventStream.sessions(sourceOf(events), { bufferSize: 2 }))
      assert.deepStrictEqual(split.map((session) => session.key), ["bot-a", "bot-b"])
      const tags = (items: ReadonlyArray<SessionEvent.SessionEvent>) =>
        items.map((item) => item._tag === "Message" ? item.event.event : item._tag)
      assert.deepStrictEqual(tags(split[0]!.events), [
        "SessionStarted",
        "participant_events.join",
        "participant_events.speech_on",
        "participant_events.leave",
        "SessionEnded"
      ])
      assert.deepStrictEqual(tags(split[1]!.events), [
        "SessionStarted",
        "participant_events.join",
        "participant_events.speech_on",
        "SessionEnded"
      ])
      assert.isTrue(split.every((session) => session.events.every((item) => item.session === session.key)))
    }))

  it.effect("loses nothing with a buffer of one and many sessions", () =>
    Effect.gen(function*() {
      const bots = ["b1", "b2", "b3"]
      const events = Array.from({ length: 300 }, (_, i) => mixed(i / 10, 320, bots[i % 3]!))
      const split = yield* sourceOf(events).pipe(EventStream.sessions({ bufferSize: 1 }), collectSessions)
      assert.deepStrictEqual(split.map((session) => session.key), bots)
      for (const session of split) {
        const times = session.events.flatMap((item) => item._tag === "Message" ? [timeOf(item)!] : [])
        assert.strictEqual(times.length, 100)
        assert.deepStrictEqual(times, [...times].sort((a, b) => a - b))
      }
    }))

  it.effect("ends a session's Stream at its SessionEnded while the input goes on", () =>
    Effect.gen(function*() {
      const input = Stream.fromIterable<SessionEvent.SessionEvent>([
        message(said("participant_events.join", 1, 0, "a"), "a"),
        message(said("participant_events.join", 2, 0, "b"), "b"),
        ended("a"),
        message(said("participant_events.leave", 1, 5, "a"), "a") // after its end: discarded
      ]).pipe(Stream.concat(Stream.never))
      const first = yield* input.pipe(
        EventStream.sessions(),
        Stream.flatMap((session) => Stream.fromEffect(collect(session.events)), { concurrency: "unbounded" }),
        Stream.take(1),
        collect
      )
      assert.deepStrictEqual(first[0]!.map((item) => item._tag), ["Message", "SessionEnded"])
      assert.strictEqual(first[0]![0]!.session, "a")
    }))
})

// -----------------------------------------------------------------------------

describe("byParticipant", () => {
  it.effect("gives each participant, and mixed audio, its own Stream; the rest is left out", () =>
    Effect.gen(function*() {
      const input: ReadonlyArray<SessionEvent.SessionEvent> = [
        new SessionEvent.SessionStarted({
          session: SessionKey.make("bot-1"),
          at: 0,
          botId: "bot-1",
          recordingId: null,
          metadata: null
        }),
        message(mixed(0, 3200)),
        message(separate(100, 0, 3200)),
        message(separate(200, 0, 3200)),
        message(said("participant_events.speech_on", 100, 0.1)),
        message(unknown("bot.status_change", {})),
        message(provider({ any: 1 })),
        message(mixed(0.1, 3200)),
        message(separate(null, 0.2, 3200)),
        message(separate(100, 0.1, 3200)),
        ended()
      ]
      const groups = yield* Stream.fromIterable(input).pipe(
        EventStream.byParticipant({ bufferSize: 1 }),
        Stream.flatMap(
          (group) =>
            Stream.fromEffect(
              Effect.map(collect(group.events), (items) => ({
                key: group.key,
                items: items.map((item) => {
                  const event = EventStream.eventOf(item)!
                  return `${event.event}@${RecallEvent.relativeTimeOf(event)}`
                })
              }))
            ),
          { concurrency: "unbounded" }
        ),
        collect
      )
      const found = Object.fromEntries(groups.map((group) => [group.key, group.items]))
      assert.deepStrictEqual(found, {
        mixed: ["audio_mixed_raw.data@0", "audio_mixed_raw.data@0.1"],
        "100": ["audio_separate_raw.data@0", "participant_events.speech_on@0.1", "audio_separate_raw.data@0.1"],
        "200": ["audio_separate_raw.data@0"],
        unknown: ["audio_separate_raw.data@0.2"]
      })
    }))

  it("trackOf names the track of an item", () => {
    assert.strictEqual(EventStream.trackOf(mixed(0, 2)), "mixed")
    assert.strictEqual(EventStream.trackOf(message(transcript("transcript.data", 7, []))), "7")
    assert.strictEqual(EventStream.trackOf(unknown("x", null)), undefined)
    assert.strictEqual(EventStream.trackOf(ended()), undefined)
  })
})

// -----------------------------------------------------------------------------

describe("dedupe", () => {
  const names = (items: ReadonlyArray<EventStream.Item>) =>
    items.map((item) => {
      const event = EventStream.eventOf(item)
      return event === undefined ? (item as SessionEvent.ControlEvent)._tag : RecallEvent.nameOf(event)
    })

  it.effect("drops repeats and keeps events that differ in participant, time or content", () =>
    Effect.gen(function*() {
      const input: ReadonlyArray<RecallEvent.RecallEvent> = [
        said("participant_events.speech_on", 100, 1), // 0
        said("participant_events.speech_on", 100, 1), // repeat
        said("participant_events.speech_on", 200, 1), // other participant
        said("participant_events.speech_on", 100, 2), // other time
        said("participant_events.speech_off", 100, 1), // other event
        transcript("transcript.partial_data", 100, [["Hey", 1, 1.2]]), // 5
        transcript("transcript.partial_data", 100, [["Hey", 1, 1.2], ["you", 1.3, 1.4]]), // grown
        transcript("transcript.partial_data", 100, [["Hey", 1, 1.2]]), // repeat of 5
        transcript("transcript.partial_data", 100, [["Hi", 1, 1.2]]), // other text
        frame(100, 3, "webcam"),
        frame(100, 3, "screenshare"), // other stream
        frame(100, 3, "webcam"), // repeat
        chat(100, 4, "one"),
        chat(100, 4, "two"), // other text
        unknown("bot.status_change", { code: "in_call" }),
        unknown("bot.status_change", { code: "in_call" }), // repeat
        unknown("bot.status_change", { code: "done" }),
        mixed(5, 3200),
        mixed(5, 3200), // repeat
        said("participant_events.speech_on", 100, 1, "bot-2") // other meeting
      ]
      const kept = yield* Stream.fromIterable(input).pipe(EventStream.dedupe({ window: 100 }), collect)
      const dropped = [1, 7, 11, 15, 18]
      assert.deepStrictEqual(kept, input.filter((_, i) => !dropped.includes(i)))
    }))

  it.effect("remembers only the window: an older repeat passes", () =>
    Effect.gen(function*() {
      const at = (t: number) => said("participant_events.speech_on", 100, t)
      const input = [at(1), at(2), at(1), at(3), at(4), at(1), at(1)]
      const kept = yield* Stream.fromIterable(input).pipe(EventStream.dedupe({ window: 2 }), collect)
      // at(1) is repeated while among the 2 most recent keys (dropped), then after two new keys (passes),
      // and that pass makes it recent again.
      assert.deepStrictEqual(kept.map(timeOf), [1, 2, 3, 4, 1])
    }))

  it.effect("on session Streams compares Messages only; control events pass; state is per run", () =>
    Effect.gen(function*() {
      const input: ReadonlyArray<SessionEvent.SessionEvent> = [
        message(mixed(0, 10)),
        ended(),
        message(mixed(0, 10)),
        ended(),
        message(mixed(0, 10, "bot-2"), "bot-2")
      ]
      const stream = Stream.fromIterable(input).pipe(EventStream.dedupe({ window: 8 }))
      const first = yield* collect(stream)
      const second = yield* collect(stream)
      assert.deepStrictEqual(names(first), [
        "audio_mixed_raw.data",
        "SessionEnded",
        "SessionEnded",
        "audio_mixed_raw.data"
      ])
      assert.deepStrictEqual(second, first)
    }))

  it("dedupeKey tells apart what must not merge", () => {
    const a = EventStream.dedupeKey(transcript("transcript.data", 1, [["a", 1, 2]]))
    const b = EventStream.dedupeKey(transcript("transcript.partial_data", 1, [["a", 1, 2]]))
    const c = EventStream.dedupeKey(transcript("transcript.data", 1, [["a", 1, 3]]))
    assert.strictEqual(new Set([a, b, c]).size, 3)
    assert.strictEqual(EventStream.dedupeKey(provider({ x: 1 })), EventStream.dedupeKey(provider({ x: 1 })))
    assert.notStrictEqual(EventStream.dedupeKey(provider({ x: 1 })), EventStream.dedupeKey(provider({ x: 2 })))
  })
})

// -----------------------------------------------------------------------------

describe("reorder", () => {
  const at = (t: number, id = 100) => said("participant_events.speech_on", id, t)

  it.effect("sorts events that are out of order within the window", () =>
    Effect.gen(function*() {
      const out = yield* Stream.fromIterable([3, 1, 2, 5, 4, 6].map((t) => at(t))).pipe(
        EventStream.reorder({ window: 3 }),
        collect
      )
      assert.deepStrictEqual(out.map(timeOf), [1, 2, 3, 4, 5, 6])
    }))

  it.effect("keeps arrival order for equal times", () =>
    Effect.gen(function*() {
      const input = [at(2, 1), at(1, 2), at(2, 3), at(1, 4), at(2, 5)]
      const out = yield* Stream.fromIterable(input).pipe(EventStream.reorder({ window: 10 }), collect)
      assert.deepStrictEqual(out.map((event) => event.data.data.participant.id), [2, 4, 1, 3, 5])
    }))

  it.effect("lets an event later than the window through late instead of waiting", () =>
    Effect.gen(function*() {
      const out = yield* Stream.fromIterable([5, 6, 7, 1].map((t) => at(t))).pipe(
        EventStream.reorder({ window: 2 }),
        collect
      )
      assert.deepStrictEqual(out.map(timeOf), [5, 1, 6, 7])
    }))

  it.effect("holds at most `window` events: each output comes as soon as one more arrives", () =>
    Effect.gen(function*() {
      let pulled = 0
      const pulledAtEmit: Array<number> = []
      const input = Array.from({ length: 8 }, (_, i) => at(8 - i)) // strictly decreasing: worst case
      yield* Stream.fromIterable(input).pipe(
        Stream.rechunk(1),
        Stream.tap(() => Effect.sync(() => pulled++)),
        EventStream.reorder({ window: 3 }),
        Stream.rechunk(1),
        Stream.runForEach(() => Effect.sync(() => pulledAtEmit.push(pulled)))
      )
      // 4th input releases the 1st output, and so on; the last 3 come out when the input ends.
      assert.deepStrictEqual(pulledAtEmit, [4, 5, 6, 7, 8, 8, 8, 8])
    }))

  it.effect("does not wait for the input to end", () =>
    Effect.gen(function*() {
      const out = yield* Stream.fromIterable([2, 1, 3, 4].map((t) => at(t))).pipe(
        Stream.concat(Stream.never),
        EventStream.reorder({ window: 2 }),
        Stream.take(2),
        collect
      )
      assert.deepStrictEqual(out.map(timeOf), [1, 2])
    }))

  it.effect("passes untimed items at once; SessionEnded first releases what is held", () =>
    Effect.gen(function*() {
      const input: ReadonlyArray<SessionEvent.SessionEvent> = [
        message(at(2)),
        message(at(1)),
        message(unknown("bot.x", null)),
        message(at(3)),
        ended()
      ]
      const out = yield* Stream.fromIterable(input).pipe(EventStream.reorder({ window: 5 }), collect)
      assert.deepStrictEqual(out.map((item) => timeOf(item) ?? item._tag), ["Message", 1, 2, 3, "SessionEnded"])
      assert.strictEqual(EventStream.eventOf(out[0]!)?.event, "unknown")
    }))
})

// -----------------------------------------------------------------------------

describe("audioGaps", () => {
  const gaps = (input: ReadonlyArray<EventStream.Item>, options?: EventStream.AudioGapOptions) =>
    Stream.fromIterable(input).pipe(
      EventStream.audioGaps(options),
      collect,
      Effect.map((found) => found.map(({ end, participant, start }) => ({ participant, start, end })))
    )

  it.effect("finds where the next chunk starts after the previous one ends", () =>
    Effect.gen(function*() {
      const found = yield* gaps([
        mixed(0, 3200), // 0 .. 0.1
        mixed(0.1, 3200), // contiguous
        mixed(0.35, 3200), // starts 0.15 s after 0.2
        mixed(0.45, 0) // an empty buffer covers nothing
      ])
      assert.deepStrictEqual(found, [{ participant: "mixed", start: 0.2, end: 0.35 }])
    }))

  it.effect("tracks mixed audio and each participant apart", () =>
    Effect.gen(function*() {
      const found = yield* gaps([
        mixed(0, 3200),
        separate(100, 5, 3200),
        separate(200, 0, 1600),
        mixed(0.1, 3200),
        separate(200, 0.05, 1600),
        separate(100, 5.1, 3200),
        separate(200, 1, 1600),
        mixed(0.2, 3200)
      ])
      assert.deepStrictEqual(found, [{ participant: "200", start: 0.1, end: 1 }])
    }))

  it.effect("uses the byte length of padded base64 without decoding it", () =>
    Effect.gen(function*() {
      // 3199, 3200 and 3201 bytes end in "==", "=" and no padding.
      for (const bytes of [3199, 3200, 3201]) {
        const found = yield* gaps([separate(1, 0, bytes), separate(1, 1, 10)], { tolerance: 0 })
        assert.deepStrictEqual(found, [{ participant: "1", start: bytes / 32000, end: 1 }])
        const none = yield* gaps([separate(1, 0, bytes), separate(1, bytes / 32000, 10)], { tolerance: 0 })
        assert.deepStrictEqual(none, [])
      }
    }))

  it.effect("ignores less than the tolerance (1 ms by default)", () =>
    Effect.gen(function*() {
      const late = [mixed(0, 3200), mixed(0.1005, 3200)]
      assert.deepStrictEqual(yield* gaps(late), [])
      assert.strictEqual((yield* gaps(late, { tolerance: 0.0001 })).length, 1)
      assert.strictEqual((yield* gaps([mixed(0, 3200), mixed(0.102, 3200)])).length, 1)
    }))

  it.effect("a late or overlapping chunk neither makes a gap nor moves the end back", () =>
    Effect.gen(function*() {
      const found = yield* gaps([
        mixed(1, 32000), // 1 .. 2
        mixed(0.5, 3200), // late
        mixed(1.9, 3200), // overlaps, ends at 2.0
        mixed(2.5, 3200)
      ])
      assert.deepStrictEqual(found, [{ participant: "mixed", start: 2, end: 2.5 }])
    }))

  it.effect("on session Streams keeps meetings apart and forgets one at its end", () =>
    Effect.gen(function*() {
      const found = yield* Stream.fromIterable<SessionEvent.SessionEvent>([
        message(mixed(0, 3200, "a"), "a"),
        message(mixed(5, 3200, "b"), "b"),
        message(mixed(0.1, 3200, "a"), "a"),
        ended("a"),
        message(mixed(9, 3200, "a"), "a"),
        message(mixed(6, 3200, "b"), "b")
      ]).pipe(EventStream.audioGaps(), collect)
      assert.deepStrictEqual(found.map((gap) => [gap.session, gap.start, gap.end]), [["b", 5.1, 6]])
      assert.deepStrictEqual(Schema.encodeSync(EventStream.AudioGap)(found[0]!), {
        _tag: "AudioGap",
        session: "b",
        participant: "mixed",
        start: 5.1,
        end: 6
      })
    }))

  it.effect("withAudioGaps puts each gap just before the chunk that shows it", () =>
    Effect.gen(function*() {
      const input = [mixed(0, 3200), said("participant_events.speech_on", 1, 0.2), mixed(0.5, 3200)]
      const out = yield* Stream.fromIterable(input).pipe(EventStream.withAudioGaps(), collect)
      assert.deepStrictEqual(
        out.map((item) => EventStream.isAudioGap(item) ? `gap ${item.start}-${item.end}` : item.event),
        ["audio_mixed_raw.data", "participant_events.speech_on", "gap 0.1-0.5", "audio_mixed_raw.data"]
      )
      const gap = out[2]
      assert.isTrue(EventStream.isAudioGap(gap) && Math.abs(gap.duration - 0.4) < 1e-9)
    }))
})

// -----------------------------------------------------------------------------

describe("together", () => {
  it.effect("the module example: dedupe, split per session, keep final transcripts", () =>
    Effect.gen(function*() {
      const hello = transcript("transcript.data", 100, [["hello", 1, 1.4], ["there", 1.5, 1.9]], "bot-a")
      const events = [
        hello,
        hello, // sent twice
        transcript("transcript.partial_data", 200, [["bon", 1, 1.2]], "bot-b"),
        transcript("transcript.data", 200, [["bonjour", 1, 1.3]], "bot-b"),
        mixed(2, 3200, "bot-a")
      ]
      const lines = yield* sourceOf(events).pipe(
        EventStream.dedupe({ window: 256 }),
        EventStream.sessions({ bufferSize: 64 }),
        Stream.flatMap(
          (session) =>
            session.events.pipe(
              EventStream.filterMessages("transcript.data"),
              Stream.map((message) =>
                `${session.key}: ${message.event.data.data.words.map((word) => word.text).join(" ")}`
              )
            ),
          { concurrency: "unbounded" }
        ),
        collect
      )
      assert.deepStrictEqual([...lines].sort(), ["bot-a: hello there", "bot-b: bonjour"])
    }))
})
