import { Decoder, type SessionEvent, Tape } from "@callstream/core"
import type { AppendBuffer } from "./appendBuffer.js"

/**
 * The tape line of each message a recorder appends: the raw text that arrived (or the event encoded back), its
 * position when it has one, and `at`, seconds since the first message this recorder saw, counted on from `lastAt`
 * (the `at` of the tape's last line) so an appended tape never goes back in time.
 *
 * The line is `Tape.formatLine`'s, appended in three parts (what comes before the message, the raw text, `}` and the
 * newline), so the raw text, a few kilobytes of audio, is copied once into the buffer and never joined into a new
 * string first. Raw text with a line break in it (which `Tape.formatLine` turns into spaces) is formatted whole.
 *
 * @internal
 */
export const lineMaker = (lastAt: number): (message: SessionEvent.Message, to: AppendBuffer) => number => {
  let origin: number | undefined
  return (message, to) => {
    origin ??= message.receivedAt
    const at = Math.round((lastAt + Math.max(0, message.receivedAt - origin) / 1000) * 1000) / 1000
    const raw = message.raw
    if (raw === undefined || raw.indexOf("\n") !== -1 || raw.indexOf("\r") !== -1) {
      const line = Tape.formatLine(at, raw === undefined ? Decoder.encode(message.event) : undefined, {
        raw,
        position: message.position
      })
      to.append(line, 1)
      return line.length
    }
    // the line of an empty message ends with the message's place, then `}` and the newline
    const head = Tape.formatLine(at, undefined, { raw: "", position: message.position })
    to.append(head.slice(0, head.length - TAIL.length))
    to.append(raw)
    to.append(TAIL, 1)
    return head.length + raw.length
  }
}

const TAIL = "}\n"
