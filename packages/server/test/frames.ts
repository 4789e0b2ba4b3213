/**
 * Arbitrary websocket frames for fuzzing the frame path: valid Recall envelopes with one value replaced (by JSON of
 * every type, hostile shapes included) or removed at any path, for known and unknown event names; random JSON;
 * random bytes; and valid meetings with all of these interleaved. Used by the property tests and `npm run fuzz`.
 */
import { Fixtures, RecallEvent } from "@callstream/core"
import * as FastCheck from "effect/FastCheck"
import { isUtf8 } from "node:buffer"

/** One frame as a client sends it. */
export interface Frame {
  readonly data: Buffer
  /** A binary frame (else text: then `data` must be UTF-8 for the server to accept it). */
  readonly binary: boolean
  /** What kind of frame this is, for counts and failure reports. */
  readonly kind: "valid" | "damaged" | "json" | "bytes"
}

/** A valid meeting of one bot, with other frames before, between and after its messages. */
export interface Scenario {
  readonly botId: string
  /** The meeting's messages, in the order they are sent. */
  readonly meeting: ReadonlyArray<string>
  /** Every frame in sending order, the meeting's included. */
  readonly frames: ReadonlyArray<Frame>
}

type Path = ReadonlyArray<string | number>

/** Every path in a JSON value, the root (`[]`) included. */
export const pathsOf = (value: unknown): Array<Path> => {
  const out: Array<Path> = [[]]
  const walk = (node: unknown, at: Path): void => {
    if (node === null || typeof node !== "object") return
    for (const key of Object.keys(node)) {
      const path = [...at, Array.isArray(node) ? Number(key) : key]
      out.push(path)
      walk((node as Record<string, unknown>)[key], path)
    }
  }
  walk(value, [])
  return out
}

const PLACEHOLDER = "\u0001replaced\u0001"

/**
 * The JSON text of `value` with the node at `path` replaced by the JSON text `replacement`, or removed when it is
 * `undefined`. The replacement is spliced in as text, so it can be anything JSON allows: numbers that parse to
 * infinity, `__proto__` keys, nesting deeper than `JSON.stringify` could write.
 */
export const replaceAt = (value: unknown, path: Path, replacement: string | undefined): string => {
  if (path.length === 0) return replacement ?? ""
  const copy = structuredClone(value) as Record<string | number, unknown>
  let parent: any = copy
  for (const key of path.slice(0, -1)) parent = parent[key]
  const last = path[path.length - 1]!
  if (replacement !== undefined) parent[last] = PLACEHOLDER
  else if (Array.isArray(parent)) parent.splice(Number(last), 1)
  else delete parent[last]
  const text = JSON.stringify(copy)
  return replacement === undefined ? text : text.replace(JSON.stringify(PLACEHOLDER), () => replacement)
}

const nested = (depth: number, open = "[", close = "]") => open.repeat(depth) + close.repeat(depth)

/** JSON text of every type, with the values that broke parsers before. */
export const jsonText: FastCheck.Arbitrary<string> = FastCheck.oneof(
  { arbitrary: FastCheck.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), weight: 4 },
  {
    arbitrary: FastCheck.constantFrom(
      "null",
      "true",
      "false",
      "0",
      "-0",
      "-1",
      "1.5",
      "1e400",
      "-1e400",
      "9007199254740993",
      "\"\"",
      "\"x\"",
      "[]",
      "{}",
      "[null]",
      "{\"__proto__\":{\"polluted\":1}}",
      "{\"constructor\":{\"prototype\":1},\"toString\":1}",
      JSON.stringify("\u0000\n\u001b[2J\u202e forged"),
      JSON.stringify("x".repeat(70_000)),
      nested(20_000),
      `{"a":${nested(5_000)}}`,
      `[${"0,".repeat(10_000)}0]`
    ),
    weight: 3
  },
  { arbitrary: FastCheck.string().map((s) => JSON.stringify(s)), weight: 1 },
  {
    arbitrary: FastCheck.dictionary(FastCheck.string(), FastCheck.jsonValue({ maxDepth: 1 })).map(JSON.stringify),
    weight: 1
  }
)

/** Names the schemas do not know, the ones that are also `Object.prototype`'s members among them. */
export const unknownName: FastCheck.Arbitrary<string> = FastCheck.oneof(
  FastCheck.constantFrom(
    "whatever",
    "bot.status_change",
    "__proto__",
    "constructor",
    "toString",
    "hasOwnProperty",
    "valueOf",
    "",
    "transcript.data ",
    "x".repeat(5_000),
    "\u001b[31mred\n"
  ),
  FastCheck.string()
)

// Messages are built once with a placeholder bot id, then given each run's id as text: building audio and video
// for every run would cost more than the fuzzing itself
const BOT = "bot-placeholder-0000"
const withBot = (template: string, botId: string): string => template.replaceAll(BOT, botId)
const knownTemplates = Object.values(Fixtures.everyEvent({ botId: BOT })).map((m) => JSON.stringify(m))

/** A valid envelope of a known event for `botId` (every family), or an unknown event that names it. */
export const envelope = (botId: string): FastCheck.Arbitrary<unknown> =>
  FastCheck.oneof(
    FastCheck.constantFrom(...knownTemplates).map((template) => JSON.parse(withBot(template, botId))),
    unknownName.map((name) => ({
      event: name,
      data: { bot: { id: botId, metadata: { team: "red" } }, recording: { id: `rec-${botId}`, metadata: null } }
    }))
  )

/** A valid envelope with one path replaced by any JSON, or removed. */
export const damaged = (botId: string): FastCheck.Arbitrary<string> =>
  FastCheck.tuple(envelope(botId), FastCheck.nat(), FastCheck.option(jsonText, { freq: 6 })).map(
    ([message, pick, replacement]) => {
      const paths = pathsOf(message)
      return replaceAt(message, paths[pick % paths.length]!, replacement ?? undefined)
    }
  )

/** Random JSON: any value, or an object with an event name and any data. */
export const randomJson: FastCheck.Arbitrary<string> = FastCheck.oneof(
  jsonText,
  FastCheck.record({
    event: FastCheck.oneof(unknownName, FastCheck.constantFrom(...RecallEvent.eventNames)),
    data: FastCheck.jsonValue({ maxDepth: 4 })
  }).map((v) => JSON.stringify(v))
)

/** Random bytes, sometimes starting like JSON. */
export const randomBytes: FastCheck.Arbitrary<Buffer> = FastCheck.oneof(
  FastCheck.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  FastCheck.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from("{\"event\":\""), Buffer.from(b)]))
)

/** A frame that prints as its text (or bytes) in a counterexample. */
const frameOf = (data: Buffer, binary: boolean, kind: Frame["kind"]): Frame & FastCheck.WithToStringMethod => ({
  data,
  binary,
  kind,
  [FastCheck.toStringMethod]: () =>
    `${binary ? "binary" : "text"} ${kind} ${
      isUtf8(data) ? JSON.stringify(data.toString("utf8").slice(0, 300)) : data.toString("hex").slice(0, 300)
    }`
})

const text = (kind: Frame["kind"]) => (s: string): Frame => frameOf(Buffer.from(s, "utf8"), false, kind)

/** Any frame that is not part of a valid meeting: damaged envelopes, random JSON and random bytes, text or binary. */
export const garbage = (botId: string): FastCheck.Arbitrary<Frame> =>
  FastCheck.tuple(
    FastCheck.oneof(
      { arbitrary: damaged(botId).map(text("damaged")), weight: 5 },
      { arbitrary: randomJson.map(text("json")), weight: 2 },
      { arbitrary: randomBytes.map((data) => frameOf(data, false, "bytes")), weight: 2 }
    ),
    FastCheck.boolean()
  ).map(([frame, binary]) => frameOf(frame.data, binary, frame.kind))

const meetingTemplates = (at: number, i: number): ReadonlyArray<string> => {
  const origin = { botId: BOT, at }
  return [
    Fixtures.participantEvent("participant_events.join", origin),
    Fixtures.transcript(`utterance ${i}`, origin),
    Fixtures.audio(origin),
    Fixtures.video(origin),
    Fixtures.speech("participant_events.speech_on", origin)
  ].map((m) => JSON.stringify(m))
}
const MAX_MEETING = 12
const meetingPool = Array.from({ length: MAX_MEETING }, (_, i) => meetingTemplates(i / 2, i))

/** A short valid meeting of `botId`: participant events, transcripts, audio and video at increasing times. */
export const meeting = (botId: string): FastCheck.Arbitrary<ReadonlyArray<string>> =>
  FastCheck.array(FastCheck.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: MAX_MEETING }).map((kinds) =>
    kinds.map((kind, i) => withBot(meetingPool[i]![kind]!, botId))
  )

/**
 * A valid meeting of a fresh bot with garbage interleaved: before its first message (so garbage also comes first on
 * a fresh connection and a fresh session), between its messages and after them.
 */
export const scenario = (
  botId: FastCheck.Arbitrary<string>,
  options: { readonly maxGarbage?: number } = {}
): FastCheck.Arbitrary<Scenario> =>
  botId.chain((id) =>
    FastCheck.tuple(
      meeting(id),
      FastCheck.array(garbage(id), { maxLength: options.maxGarbage ?? 12 }),
      FastCheck.array(FastCheck.nat(), { maxLength: 32 })
    ).map(([valid, junk, slots]): Scenario => {
      // slot i says after which valid message garbage frame i goes (beyond the end: after the last one)
      const frames: Array<Frame> = []
      const after = junk.map((_, i) => (slots[i] ?? i) % (valid.length + 1))
      for (let v = 0; v <= valid.length; v++) {
        junk.forEach((frame, i) => {
          if (after[i] === v) frames.push(frame)
        })
        if (v < valid.length) frames.push(text("valid")(valid[v]!))
      }
      return { botId: id, meeting: valid, frames }
    })
  )

/** Whether the server accepts a frame's bytes at all (a text frame must be UTF-8, or the connection gets 1007). */
export const acceptable = (frame: Frame): boolean => frame.binary || isUtf8(frame.data)
