/**
 * Decode throughput: callstream's `Decoder.decodeEither` against bare `JSON.parse` of the same text, in the same
 * process run, for the four message shapes that dominate real traffic. A naive `JSON.parse` + Effect Schema decode
 * of the whole event union is shown for comparison. Also the heap one decoded value keeps alive beyond its text,
 * for both (a figure that does not move with the machine's speed).
 *
 *   npx tsx bench/decode.ts            # or: npm run bench
 *
 * Each case interleaves the three decoders over several rounds and reports the median round, so a burst of noise
 * on the machine hits all three alike.
 */
import { Decoder, Fixtures, RecallEvent } from "@callstream/core"
import * as Schema from "effect/Schema"
import * as v8 from "node:v8"
import { collect } from "./collect.js"

const rounds = Number(process.env.BENCH_ROUNDS ?? 9)
const budgetMs = Number(process.env.BENCH_ROUND_MS ?? 150)

const participant = Fixtures.participant({ id: 200, name: "Grace Hopper", extra_data: { zoom: { guest: false } } })
const pngLike = Buffer.concat([
  Buffer.from(Fixtures.ONE_PIXEL_PNG, "base64").subarray(0, 33),
  Buffer.alloc(30_000, 7)
]).toString("base64")

const cases: ReadonlyArray<readonly [string, string]> = [
  [
    "transcript.data (12 words)",
    JSON.stringify(
      Fixtures.transcript("we shipped the parser today and the reconnect path needs another look", {
        participant,
        at: 12.5,
        languageCode: "en"
      })
    )
  ],
  [
    "participant_events.speech_on",
    JSON.stringify(Fixtures.speech("participant_events.speech_on", { participant, at: 3 }))
  ],
  [
    "audio_mixed_raw.data (100 ms)",
    JSON.stringify(Fixtures.audio({ samples: Fixtures.tone(440, 0, 0.1), at: 4.2 }))
  ],
  ["video_separate_png.data (30 KB)", JSON.stringify(Fixtures.video({ buffer: pngLike, participant, at: 8 }))]
]

const naiveDecode = Schema.decodeUnknownEither(RecallEvent.RecallEvent as Schema.Schema<any, any>)

const measure = (fn: () => void): number => {
  let n = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < budgetMs) {
    for (let i = 0; i < 200; i++) fn()
    n += 200
    elapsed = performance.now() - start
  }
  return (n / elapsed) * 1000
}

const median = (xs: Array<number>): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/**
 * Bytes of V8 heap that one decoded value keeps alive beyond its text (what a queue of events holds), over 2,000
 * values kept at once, each from a text of its own, measured between full collections. Unlike throughput, it does
 * not depend on how fast the machine is this hour.
 */
const keptPerValue = (text: string, decode: (text: string) => unknown): number => {
  // each text flat, as a socket's frame becomes one (a replaced string is a rope until something flattens it)
  const texts = Array.from({ length: 2_000 }, (_, i) => Buffer.from(text.replace("{", `{"n":${i},`)).toString())
  collect()
  const before = v8.getHeapStatistics().used_heap_size
  const kept = texts.map(decode)
  collect()
  const bytes = (v8.getHeapStatistics().used_heap_size - before) / kept.length
  return kept.length > 0 ? bytes : 0
}

let sink = 0
const rows: Array<Record<string, string>> = []
for (const [name, text] of cases) {
  const baseline = () => {
    sink ^= JSON.parse(text) === null ? 1 : 0
  }
  const ours = () => {
    sink ^= Decoder.decodeEither(text)._tag === "Left" ? 1 : 0
  }
  const naive = () => {
    sink ^= naiveDecode(JSON.parse(text))._tag === "Left" ? 1 : 0
  }
  if (Decoder.decodeEither(text)._tag === "Left") throw new Error(`bench message does not decode: ${name}`)
  for (let i = 0; i < 3; i++) {
    measure(baseline)
    measure(ours)
    measure(naive)
  }
  const b: Array<number> = []
  const o: Array<number> = []
  const v: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    b.push(measure(baseline))
    o.push(measure(ours))
    v.push(measure(naive))
  }
  const keptParse = keptPerValue(text, (t) => JSON.parse(t))
  const keptOurs = keptPerValue(text, (t) => Decoder.decodeEither(t))
  const mb = Buffer.byteLength(text) / 1e6
  const base = median(b)
  const fast = median(o)
  const slow = median(v)
  rows.push({
    message: name,
    bytes: String(Buffer.byteLength(text)),
    "JSON.parse msg/s": Math.round(base).toLocaleString("en-US"),
    "callstream msg/s": Math.round(fast).toLocaleString("en-US"),
    "callstream MB/s": (fast * mb).toFixed(1),
    "ratio": (fast / base).toFixed(2) + "x",
    "naive Schema ratio": (slow / base).toFixed(2) + "x",
    "kept per value: JSON.parse / callstream": `${(keptParse / 1024).toFixed(1)} / ${(keptOurs / 1024).toFixed(1)} KiB`
  })
}

console.log(
  `decode throughput (median of ${rounds} interleaved rounds of ${budgetMs} ms each; node ${process.version}); ` +
    "heap kept alive per decoded value beyond its text (2,000 kept, between full collections)"
)
console.table(rows)
if (sink === 42) console.log("")
