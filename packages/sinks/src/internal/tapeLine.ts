import { Decoder, type SessionEvent, Tape } from "@callstream/core"

/**
 * The tape line of each message a recorder appends: the raw text that arrived (or the event encoded back), its
 * position when it has one, and `at`, seconds since the first message this recorder saw, counted on from `lastAt`
 * (the `at` of the tape's last line) so an appended tape never goes back in time.
 *
 * @internal
 */
export const lineMaker = (lastAt: number): (message: SessionEvent.Message) => string => {
  let origin: number | undefined
  return (message) => {
    origin ??= message.receivedAt
    const at = Math.round((lastAt + Math.max(0, message.receivedAt - origin) / 1000) * 1000) / 1000
    return Tape.formatLine(at, message.raw === undefined ? Decoder.encode(message.event) : undefined, {
      raw: message.raw,
      position: message.position
    })
  }
}
