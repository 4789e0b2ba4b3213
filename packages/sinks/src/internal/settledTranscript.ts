import * as Transcript from "../Transcript.js"
import * as SettledLog from "./settledLog.js"

/**
 * `transcript.settled.jsonl`: the finals a session recorder no longer keeps in memory (see `Transcript.settle`),
 * one JSON line each, in the order they were moved out (see `SettledLog`). A recorder keeps the last `WINDOW`
 * seconds of a meeting's transcript in memory and the rest here, so a session's memory does not grow with the
 * length of its meeting (a final of 16 words held about 2 KB of heap: 290 MB after 10 minutes of 500 meetings). The
 * transcript exports are rendered from this file and the finals in memory together (`Transcript.withSettled`).
 *
 * @internal
 */
export const { FILE, line, read, restore } = SettledLog.make("transcript.settled.jsonl", Transcript.Utterance)

/**
 * Seconds of meeting time a recorder keeps in memory behind the latest final: what is older is moved out. Late finals
 * and repeats are handled however old they are (see `Transcript.settle`), so this needs to cover nothing but the
 * partials that arrive after their final.
 *
 * @internal
 */
export const WINDOW = 10
