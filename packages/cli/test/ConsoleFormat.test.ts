/**
 * The words of the serve console, as pure functions: log lines in each format, the header, the meeting lines, the
 * status line, and the figures a meeting's closing line gives.
 */
import { Decoder, Fixtures, SessionEvent, SessionKey } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as LogLevel from "effect/LogLevel"
import * as ConsoleText from "../src/internal/consoleText.js"
import * as LogFormat from "../src/internal/logFormat.js"
import * as Meetings from "../src/internal/meetings.js"
import { parseLogfmt } from "./helpers.js"

const entry = (overrides: Partial<LogFormat.Entry> = {}): LogFormat.Entry => ({
  date: new Date("2026-12-02T07:08:09.010Z"),
  level: LogLevel.Info,
  message: "hello",
  annotations: [],
  ...overrides
})

describe("log lines", () => {
  const tricky = entry({
    level: LogLevel.Warning,
    message: "a \"quoted\" message\nwith a second line",
    annotations: [["session", "bot 1=x"], ["message", "an annotation named like a field"], ["count", "3"]],
    cause: "Error: boom\n    at somewhere"
  })

  it("logfmt: one line, every value read back as written, the line's own fields never replaced", () => {
    const line = LogFormat.logfmt(tricky)
    assert.notInclude(line, "\n")
    assert.deepStrictEqual(parseLogfmt(line), {
      timestamp: "2026-12-02T07:08:09.010Z",
      level: "WARN",
      message: "a \"quoted\" message\nwith a second line",
      session: "bot 1=x",
      "annotation.message": "an annotation named like a field",
      count: "3",
      cause: "Error: boom\n    at somewhere"
    })
  })

  it("json: one object per line with the same fields", () => {
    const line = LogFormat.json(tricky)
    assert.notInclude(line, "\n")
    assert.deepStrictEqual(JSON.parse(line), parseLogfmt(LogFormat.logfmt(tricky)))
  })

  it("pretty: info lines are their sentence; other levels add their annotations; the cause is indented", () => {
    const info = LogFormat.pretty(entry({ annotations: [["session", "s"]] }), false)
    assert.match(info, /^\d\d:\d\d:\d\d hello$/)
    const warning = LogFormat.pretty(tricky, false)
    const [first, ...rest] = warning.split("\n")
    assert.match(first!, /^\d\d:\d\d:\d\d WARN a "quoted" message\\nwith a second line session=bot 1=x /)
    assert.deepStrictEqual(rest, ["    Error: boom", "        at somewhere"])
    assert.notInclude(warning, "\x1b", "no colours unless asked")
    assert.include(LogFormat.pretty(tricky, true), "\x1b[33mWARN\x1b[0m")
  })

  it("pretty escapes control characters from anywhere, so nothing can move the terminal's cursor", () => {
    const line = LogFormat.pretty(
      entry({ level: LogLevel.Error, message: "x\x1b[2Ky", annotations: [["k", "\r\x1b[1A"]] }),
      false
    )
    assert.notInclude(line, "\x1b")
    assert.notInclude(line, "\r")
    assert.include(line, "x\\u001b[2Ky")
  })

  it("a fiber id shows only when the entry carries one (the console adds it at debug)", () => {
    assert.notInclude(LogFormat.logfmt(entry()), "fiber")
    assert.include(LogFormat.logfmt(entry({ fiber: "#12" })), "fiber=#12")
    assert.include(LogFormat.pretty(entry({ level: LogLevel.Debug, fiber: "#12" }), false), "#12")
  })
})

describe("console text", () => {
  const header: ConsoleText.Header = {
    url: "ws://127.0.0.1:8787/ws?token=<your token>",
    auth: "query token (1 accepted)",
    destination: "recording into /data/recordings",
    health: "http://127.0.0.1:8787/healthz",
    metrics: "http://127.0.0.1:8787/metrics",
    limits: [["max-connections", 1]],
    level: "info"
  }

  it("the header gives the URL on its own line, auth, destination, health and metrics, and the limits set", () => {
    const lines = ConsoleText.header(header).split("\n")
    assert.include(lines, "  ws://127.0.0.1:8787/ws?token=<your token>")
    assert.include(lines, "auth: query token (1 accepted)")
    assert.include(lines, "recording into /data/recordings")
    assert.include(lines, "health: GET http://127.0.0.1:8787/healthz, metrics: GET http://127.0.0.1:8787/metrics")
    assert.include(lines, "limits: --max-connections 1")
    assert.notInclude(ConsoleText.header({ ...header, limits: [] }), "limits")
    assert.notInclude(ConsoleText.header(header), "tip")
    const tip = "tip: on 2 cores, start Node with NODE_OPTIONS=--v8-pool-size=1"
    assert.include(ConsoleText.header({ ...header, tip }).split("\n"), tip)
    assert.strictEqual(ConsoleText.headerFields({ ...header, tip }).tip, tip)
    assert.deepStrictEqual(ConsoleText.headerFields(header), {
      url: header.url,
      auth: header.auth,
      destination: header.destination,
      health: header.health,
      metrics: header.metrics,
      "max-connections": 1
    })
  })

  it("durations read as a person says them", () => {
    assert.strictEqual(ConsoleText.duration(8.44), "8.4 s")
    assert.strictEqual(ConsoleText.duration(723), "12m 03s")
    assert.strictEqual(ConsoleText.duration(3723.4), "1h 02m 03s")
  })

  it("the status line shows drops and paused sockets only when there are any", () => {
    const status = { sessions: 3, connections: 5, paused: 0, messagesPerSecond: 120.4, audioSeconds: 721.44, drops: 0 }
    assert.strictEqual(
      ConsoleText.statusLine(status),
      "sessions 3  connections 5  messages/s 120  audio 721.4 s"
    )
    assert.strictEqual(
      ConsoleText.statusLine({ ...status, paused: 2, drops: 17 }),
      "sessions 3  connections 5  messages/s 120  audio 721.4 s  paused 2  drops 17"
    )
  })

  it("the status line shows how busy the recorder thread is, where one records", () => {
    const status = { sessions: 3, connections: 5, paused: 0, messagesPerSecond: 120.4, audioSeconds: 721.44, drops: 0 }
    assert.strictEqual(
      ConsoleText.statusLine({ ...status, recorderBusy: 0.724 }),
      "sessions 3  connections 5  messages/s 120  audio 721.4 s  recorder busy 72%"
    )
    assert.strictEqual(
      ConsoleText.statusLine({ ...status, drops: 1, recorderBusy: 1 }),
      "sessions 3  connections 5  messages/s 120  audio 721.4 s  drops 1  recorder busy 100%"
    )
  })
})

describe("Meetings", () => {
  const key = SessionKey.make("bot-1")
  const decoded = (json: unknown) => Either.getOrThrow(Decoder.decodeJsonEither(json))
  const at = (ms: number, json: unknown) => SessionEvent.message(key, decoded(json), ms)
  const person = (id: number) => Fixtures.participant({ id, name: `P${id}` })

  it("counts what a meeting's closing line gives, and forgets the meeting when it ends", () => {
    const first = at(
      1_000,
      Fixtures.participantEvent("participant_events.join", { botId: key, participant: person(1) })
    )
    const items: ReadonlyArray<SessionEvent.SessionEvent> = [
      SessionEvent.startedBy(key, first.event, 1_000),
      first,
      at(1_100, Fixtures.participantEvent("participant_events.join", { botId: key, participant: person(2) })),
      at(1_200, Fixtures.speech("participant_events.speech_on", { botId: key, participant: person(2) })),
      at(1_300, Fixtures.transcript("hello there", { botId: key, participant: person(2) })),
      at(1_400, Fixtures.transcript("hello th", { botId: key, final: false, participant: person(2) })),
      at(1_500, Fixtures.transcript("bye", { botId: key, participant: person(1) })),
      at(1_600, Fixtures.audio({ botId: key, samples: new Int16Array(16_000) })),
      at(62_000, Fixtures.audio({ botId: key, samples: new Int16Array(8_000), at: 1 })),
      new SessionEvent.Gap({ session: key, at: 62_100, from: 1.5, to: 20 }),
      new SessionEvent.Dropped({ session: key, at: 62_200, kind: "audio", count: 4, from: 2, to: 3 }),
      new SessionEvent.SessionEnded({ session: key, at: 160_000, reason: "timeout" })
    ]
    const meetings = new Meetings.Meetings()
    const firstHalf = meetings.observe(items.slice(0, 5))
    assert.deepStrictEqual(firstHalf.map((n) => n._tag), ["Started"])
    assert.strictEqual(meetings.open, 1)
    const notices = meetings.observe(items.slice(5))
    assert.strictEqual(meetings.open, 0)
    assert.strictEqual(notices.length, 1)
    const ended = notices[0]!
    assert(ended._tag === "Ended")
    assert.deepStrictEqual(ended.summary, {
      session: "bot-1",
      botId: "bot-1",
      recordingId: Fixtures.RECORDING_ID,
      reason: "timeout",
      durationSeconds: 61, // to the last message, not to the end the session timeout decided
      participants: 2,
      utterances: 2,
      audioSeconds: 1.5,
      gaps: 1,
      drops: 4,
      decodeFailures: 0
    })
    assert.strictEqual(meetings.messages, 8)
    assert.strictEqual(meetings.audioSeconds, 1.5)
    assert.strictEqual(meetings.drops, 4)
    assert.strictEqual(
      ConsoleText.meetingEnded(ended.summary, "files in /data/bot-1"),
      "meeting ended (timeout): bot-1, 1m 01s, 2 participants, 2 utterances, 1.5 s of audio, 1 gap, 4 drops; " +
        "files in /data/bot-1"
    )
  })

  it("a meeting's key is wire text: its lines escape it", () => {
    const forged = SessionKey.make("bot\n12:00:00 meeting ended")
    const started = SessionEvent.startedBy(forged, decoded(Fixtures.transcript("x", { botId: forged })), 0)
    assert.notInclude(ConsoleText.meetingStarted(started), "\n")
    assert.notInclude(ConsoleText.meetingStartedFields(started).session, "\n")
  })
})
