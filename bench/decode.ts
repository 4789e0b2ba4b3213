/**
 * Decode throughput: callstream's `Decoder.decodeEither` against bare `JSON.parse` of the same text, in the same
 * process run, for the four message shapes that dominate real traffic. A naive `JSON.parse` + Effect Schema decode
 * of the whole event union is shown for comparison.
 *
 *   npx tsx bench/decode.ts            # or: npm run bench
 *
 * Each case interleaves the three decoders over several rounds and reports the median round, so a burst of noise
 * on the machine hits all three alike.
 */
import { Decoder, Fixtures, RecallEvent } from "@callstream/core"
import * as Schema from "effect/Schema"

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
    "naive Schema ratio": (slow / base).toFixed(2) + "x"
  })
}

console.log(
  `decode throughput (median of ${rounds} interleaved rounds of ${budgetMs} ms each; node ${process.version})`
)
console.table(rows)
if (sink === 42) console.log("")
