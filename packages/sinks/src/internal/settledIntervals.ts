import * as Participants from "../Participants.js"
import * as SettledLog from "./settledLog.js"

/**
 * `participants.settled.jsonl`: the closed intervals (presence, speech, webcam, screenshare) a session recorder no
 * longer keeps in memory (see `Participants.settle`), one JSON line each, in the order they were moved out (see
 * `SettledLog`). Every speech turn is an interval: held in the roster, a meeting with a turn every 2 s grew the
 * recorder's heap by 250 intervals a second at 500 meetings (about 1.1 MB a minute, for as long as they ran). The
 * reducer never changes a closed interval, so the recorder keeps the open ones (and those closed at the latest
 * time seen) in memory and moves the rest here; `participants.json` is rendered from
 * this file and the roster together (`Participants.withSettled`).
 *
 * @internal
 */
export const { FILE, line, read, restore } = SettledLog.make("participants.settled.jsonl", Participants.SettledInterval)
