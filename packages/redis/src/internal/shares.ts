/**
 * How many partitions each live worker should own, computed alike by every worker from the same list of members
 * (see `EventLog.heartbeat`), so the workers agree without talking to each other.
 *
 * A member names its worker and the most partitions that worker takes (`maxPartitions`). The partitions are shared
 * as evenly as the workers' limits allow: a worker whose limit is under an even share gets its limit, and the rest
 * is shared among the others; when the rest does not divide evenly, the workers first in plain string order of
 * their ids get one more. Every worker then takes free partitions up to its share and hands over what it holds
 * beyond it.
 *
 * @internal
 */

/** A live worker as the group lists it. */
export interface Member {
  readonly id: string
  readonly maxPartitions: number
}

/** A member's entry in the group: its limit, a colon, its id (an id may hold colons: only the first separates). */
export const encode = (member: Member): string => `${member.maxPartitions}:${member.id}`

/** A member's entry read back; `undefined` for one that is not a member's (nothing this version writes). */
export const decode = (entry: string): Member | undefined => {
  const colon = entry.indexOf(":")
  const maxPartitions = Number(entry.slice(0, colon))
  if (colon <= 0 || !Number.isSafeInteger(maxPartitions) || maxPartitions < 0) return undefined
  return { id: entry.slice(colon + 1), maxPartitions }
}

/** Each member's share of `partitions`, by id. */
export const shares = (partitions: number, members: ReadonlyArray<Member>): ReadonlyMap<string, number> => {
  const out = new Map<string, number>()
  let left = Array.from(new Map(members.map((m) => [m.id, m])).values()).sort((a, b) => a.id < b.id ? -1 : 1)
  let remaining = partitions
  while (left.length > 0) {
    const base = Math.floor(remaining / left.length)
    const extra = remaining % left.length
    const even = (i: number) => base + (i < extra ? 1 : 0)
    const capped = left.filter((m, i) => m.maxPartitions < even(i))
    if (capped.length === 0) {
      left.forEach((m, i) => out.set(m.id, even(i)))
      break
    }
    for (const m of capped) {
      out.set(m.id, m.maxPartitions)
      remaining -= m.maxPartitions
    }
    left = left.filter((m) => !capped.includes(m))
  }
  return out
}
