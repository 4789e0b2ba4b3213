interface Entry<A> {
  readonly time: number
  readonly seq: number
  readonly value: A
}

const before = <A>(a: Entry<A>, b: Entry<A>): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq)

/**
 * A binary min-heap of values by a numeric time. Ties come out in insertion order (each entry carries a sequence
 * number), so ordering by it is stable.
 *
 * @internal
 */
export class MinHeap<A> {
  private readonly entries: Array<Entry<A>> = []
  private seq = 0

  get size(): number {
    return this.entries.length
  }

  push(time: number, value: A): void {
    const entries = this.entries
    entries.push({ time, seq: this.seq++, value })
    let i = entries.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(entries[i]!, entries[parent]!)) break
      ;[entries[i], entries[parent]] = [entries[parent]!, entries[i]!]
      i = parent
    }
  }

  /** Removes and returns the smallest value; undefined when empty. */
  pop(): A | undefined {
    const entries = this.entries
    const top = entries[0]
    if (top === undefined) return undefined
    const last = entries.pop()!
    if (entries.length > 0) {
      entries[0] = last
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let smallest = i
        if (left < entries.length && before(entries[left]!, entries[smallest]!)) smallest = left
        if (right < entries.length && before(entries[right]!, entries[smallest]!)) smallest = right
        if (smallest === i) break
        ;[entries[i], entries[smallest]] = [entries[smallest]!, entries[i]!]
        i = smallest
      }
    }
    return top.value
  }

  /** Removes every value, smallest first. */
  drain(): Array<A> {
    const out: Array<A> = []
    while (this.entries.length > 0) out.push(this.pop()!)
    return out
  }
}
