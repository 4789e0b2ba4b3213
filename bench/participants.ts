/**
 * The participants reducer as a meeting grows: the time `Participants.reduce` takes for a speech event after 10
 * minutes, an hour and three hours of one participant speaking every 2 s (one interval more every 2 s), against
 * the time it takes at the start. A reducer whose state is a value must not copy the history it keeps on every
 * event: a cost that grows with the meeting is paid by every session of a long-running recorder.
 *
 *   npx tsx bench/participants.ts            # or: npm run bench
 *
 * Each figure is the median of several rounds of 2,000 events (speech_on and speech_off in turn), each round applied
 * to the same state of the meeting at that length. Then the heap a roster keeps per speech interval: 100 states of
 * an hour of speech each, measured after a full collection (a state built by appends is a tree of small nodes
 * unless the reducer flattens it). Last, the same for a chat message as a chat grows (a busy webinar's, or a
 * participant flooding it): after 1,000, 10,000 and 40,000 messages.
 */
import { Decoder, Fixtures, type RecallEvent } from "@callstream/core"
import { Participants } from "@callstream/sinks"
import * as Either from "effect/Either"
import { collect } from "./collect.js"

const rounds = Number(process.env.BENCH_ROUNDS ?? 9)
const WINDOW = 2_000

const decode = (wire: unknown): RecallEvent.RecallEvent => Either.getOrThrow(Decoder.decodeEither(JSON.stringify(wire)))

const speaker = Fixtures.participant({ id: 100, name: "Ada Lovelace" })
const listener = Fixtures.participant({ id: 200, name: "Grace Hopper" })
// the events of `seconds` of meeting from `from` on: the speaker starts at every even second, stops a second later
const speech = (from: number, seconds: number): Array<RecallEvent.RecallEvent> => {
  const out: Array<RecallEvent.RecallEvent> = []
  for (let at = from; at < from + seconds; at += 2) {
    out.push(decode(Fixtures.participantEvent("participant_events.speech_on", { participant: speaker, at })))
    out.push(decode(Fixtures.participantEvent("participant_events.speech_off", { participant: speaker, at: at + 1 })))
  }
  return out
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const lengths: ReadonlyArray<readonly [string, number]> = [
  ["start", 0],
  ["10 min", 600],
  ["1 h", 3_600],
  ["3 h", 10_800]
]

let state = [
  decode(Fixtures.participantEvent("participant_events.join", { participant: speaker, at: 0 })),
  decode(Fixtures.participantEvent("participant_events.join", { participant: listener, at: 0 }))
].reduce(Participants.reduce, Participants.empty)
let reached = 0
const rows: Array<readonly [string, number, number]> = []
for (const [label, seconds] of lengths) {
  state = speech(reached, seconds - reached).reduce(Participants.reduce, state)
  reached = seconds
  const next = speech(seconds, WINDOW)
  const times: Array<number> = []
  let sink = 0
  for (let round = 0; round < rounds; round++) {
    const started = performance.now()
    let s = state
    for (let i = 0; i < WINDOW; i++) s = Participants.reduce(s, next[i]!)
    times.push((performance.now() - started) * 1000 / WINDOW)
    sink += s.roster["100"]!.speaking.length
  }
  if (sink === 0) throw new Error("nothing was reduced")
  rows.push([label, state.roster["100"]!.speaking.length, median(times)])
}

const base = rows[0]![2]
console.log(`Participants.reduce per speech event as a meeting grows (median of ${rounds} rounds of ${WINDOW} events)`)
console.log("| meeting length | intervals of the speaker | µs per event | vs start |")
console.log("| --- | --- | --- | --- |")
for (const [label, intervals, micros] of rows) {
  console.log(
    `| ${label} | ${intervals.toLocaleString("en-US")} | ${micros.toFixed(2)} | ${(micros / base).toFixed(1)}x |`
  )
}

const HOUR = speech(0, 3_600)
const SESSIONS = 100
collect()
const heapBefore = process.memoryUsage().heapUsed
const kept = Array.from({ length: SESSIONS }, () => HOUR.reduce(Participants.reduce, Participants.empty))
collect()
const heapAfter = process.memoryUsage().heapUsed
const intervals = kept[0]!.roster["100"]!.speaking.length
console.log(
  `heap kept per speech interval: ${((heapAfter - heapBefore) / SESSIONS / intervals).toFixed(0)} bytes ` +
    `(${SESSIONS} rosters of ${intervals.toLocaleString("en-US")} intervals each)`
)

// a chat message every 0.1 s of meeting, from one participant: the cost of the next ones as the chat grows
const chatAt = (from: number, count: number): Array<RecallEvent.RecallEvent> =>
  Array.from(
    { length: count },
    (_, i) => decode(Fixtures.chat(`message ${from + i}`, { participant: listener, at: (from + i) / 10 }))
  )
const chatLengths: ReadonlyArray<number> = [0, 1_000, 10_000, 40_000]
let chatState = Participants.empty
let chatReached = 0
const chatRows: Array<readonly [number, number]> = []
for (const length of chatLengths) {
  chatState = chatAt(chatReached, length - chatReached).reduce(Participants.reduce, chatState)
  chatReached = length
  const next = chatAt(length, WINDOW)
  const times: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    const started = performance.now()
    let s = chatState
    for (let i = 0; i < WINDOW; i++) s = Participants.reduce(s, next[i]!)
    times.push((performance.now() - started) * 1000 / WINDOW)
    if (s.chat.length !== length + WINDOW) throw new Error("a chat message was lost")
  }
  chatRows.push([length, median(times)])
}
console.log(`Participants.reduce per chat message as the chat grows (median of ${rounds} rounds of ${WINDOW} messages)`)
console.log("| messages before | µs per message | vs start |")
console.log("| --- | --- | --- |")
for (const [length, micros] of chatRows) {
  console.log(
    `| ${length.toLocaleString("en-US")} | ${micros.toFixed(2)} | ${(micros / chatRows[0]![1]).toFixed(1)}x |`
  )
}
