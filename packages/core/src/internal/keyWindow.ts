/**
 * A set that remembers at most `capacity` keys: adding one more forgets the oldest. Memory is bounded by the
 * capacity whatever the input.
 *
 * @internal
 */
export class KeyWindow {
  private readonly keys = new Set<string>()
  private readonly ring: Array<string | undefined>
  private next = 0

  constructor(readonly capacity: number) {
    this.ring = new Array(Math.max(0, capacity))
  }

  /** Remembers `key`; false when it was already among the remembered keys (it then stays where it was). */
  add(key: string): boolean {
    if (this.capacity <= 0) return true
    if (this.keys.has(key)) return false
    const evicted = this.ring[this.next]
    if (evicted !== undefined) this.keys.delete(evicted)
    this.ring[this.next] = key
    this.next = (this.next + 1) % this.capacity
    this.keys.add(key)
    return true
  }

  get size(): number {
    return this.keys.size
  }
}
