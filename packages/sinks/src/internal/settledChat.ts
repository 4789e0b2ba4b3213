import * as Participants from "../Participants.js"
import * as SettledLog from "./settledLog.js"

/**
 * `chat.settled.jsonl`: the chat messages a session recorder no longer keeps in memory (see
 * `Participants.settleChat`), one JSON line each, in the order they were moved out (see `SettledLog`). Held, a chat
 * grew with its meeting: 190-250 bytes of heap a message of 75 characters, so a webinar's chat of 5,000 messages
 * held about a megabyte, on each such meeting a recorder had; moved out, 16 bytes a message stay (its time and
 * digest, for repeats). The recorder keeps the last `WINDOW` seconds of it in memory and the rest here, and
 * `chat.json` is rendered from this file and the messages held together (`Participants.withSettledChat`).
 *
 * @internal
 */
export const { FILE, line, read, restore } = SettledLog.make("chat.settled.jsonl", Participants.Chat)

/**
 * Seconds of meeting time behind the latest time seen that the chat keeps in memory: older messages are moved out.
 * A repeat of one moved out is still recognized by its digest; the window keeps the recent messages, which a repeat
 * most often follows, for the plain comparison.
 *
 * @internal
 */
export const WINDOW = 10
