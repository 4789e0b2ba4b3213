/**
 * Event text on its way from `serve`'s main thread to a recorder thread, through memory both threads share: the main
 * thread writes each text's UTF-8 bytes into a ring and posts only where they are; the recorder thread reads the
 * text back as it takes the event. What waits between the two waits there, as bytes outside both V8 heaps, instead
 * of as a structured clone copied out of one heap and into the other (a 100-ms audio message: about 1 µs to write
 * and 2 µs to read, where the clone took about 7 µs to send and 6 µs to receive).
 *
 * The ring is one writer's and one reader's, and it needs no locks: the reader takes texts in the order they were
 * written, and the writer reuses the bytes of a text only after the reader said it took it (the credit of
 * `recorderThread`, a message of its own, which orders the memory as well). Every text is written in one piece: a
 * text that does not fit before the end starts again at the beginning, and the bytes it skipped count as used
 * until it is released. Whenever nothing is waiting, writing starts at the beginning again, so the memory the ring
 * takes is about the most that ever waited in it, not its size.
 *
 * @internal
 */

/** A text's place in the ring: where its bytes start, and how many they are. */
export interface Place {
  readonly offset: number
  readonly length: number
}

/** The writing end of a ring, on the main thread. */
export class Writer {
  /** Where the next text goes. */
  private at = 0
  /** Bytes written (and skipped) and not yet released. */
  private used = 0
  /** Bytes the last successful {@link write} took, what it skipped included: what to {@link release} for it. */
  lastTaken = 0
  private readonly bytes: Buffer

  constructor(readonly memory: SharedArrayBuffer) {
    this.bytes = Buffer.from(memory)
  }

  /**
   * Whether a text of `length` UTF-16 units can ever go through this ring: one of up to a quarter of it (at three
   * bytes a unit at most) always fits once half the ring is free. A longer one has to travel some other way.
   */
  fits(length: number): boolean {
    return length * 3 <= this.bytes.length / 4
  }

  /** Writes `text` (one that {@link fits}) and says where, or returns `undefined` when the ring has no room now. */
  write(text: string): Place | undefined {
    const capacity = this.bytes.length
    const most = text.length * 3
    // with nothing waiting, the next text goes to the beginning again: while the reader keeps up, only the start of
    // the ring is ever written, and only a backlog brings the rest of its pages into memory
    let at = this.used === 0 ? 0 : this.at
    let skipped = 0
    if (at + most > capacity) {
      skipped = capacity - at
      at = 0
    }
    if (this.used + skipped + most > capacity) return undefined
    const length = this.bytes.write(text, at, "utf8")
    this.at = at + length
    this.lastTaken = skipped + length
    this.used += this.lastTaken
    return { offset: at, length }
  }

  /** The reader took texts that took `taken` bytes (see {@link lastTaken}): they may be written over. */
  release(taken: number): void {
    this.used -= taken
  }
}

/** The reading end of a ring, on a recorder thread. */
export class Reader {
  private readonly bytes: Buffer

  constructor(memory: SharedArrayBuffer) {
    this.bytes = Buffer.from(memory)
  }

  /** The text at `place`. Read it before its release is sent: the writer may write over it after. */
  read(place: Place): string {
    return this.bytes.toString("utf8", place.offset, place.offset + place.length)
  }
}
