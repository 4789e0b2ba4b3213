import type { RecallEvent } from "@callstream/core"
import * as NameRecord from "./nameRecord.js"

/**
 * Messages counted by event name, to be added to a summary's counts in one step: one copy of the records per
 * batch instead of one per message. The rules are `SessionSummary`'s: every message counts; a known event by its
 * name; an unknown one by its name too while it is listed (at most `unknownLimit` distinct names, each at most
 * `nameLimit` characters), else in `unlistedUnknownEvents`. Names are kept in the order they first came, so adding
 * a batch lists the same names, and puts them in the records in the same order, as counting the messages one by
 * one would.
 *
 * @internal
 */

/** The part of a summary's counts that messages change. @internal */
export interface Counts {
  readonly messages: number
  readonly byEvent: Readonly<Record<string, number>>
  readonly unknownEvents: Readonly<Record<string, number>>
  readonly unlistedUnknownEvents: number
}

/** Whether an unknown event name is listed, given the names listed so far and how many they are. @internal */
export const isListed = (
  unknownEvents: Readonly<Record<string, number>>,
  listedNames: number,
  name: string,
  limits: Limits
): boolean =>
  NameRecord.get(unknownEvents, name) !== undefined || (name.length <= limits.nameLength && listedNames < limits.names)

/** @internal */
export interface Limits {
  readonly names: number
  readonly nameLength: number
}

/** @internal */
export class MessageCounter {
  // by name, in the order names first came; unknown names are also in `unknown`
  private readonly byName = new Map<string, number>()
  private readonly unknown = new Set<string>()
  private messages = 0

  constructor(private readonly limits: Limits) {}

  get isEmpty(): boolean {
    return this.messages === 0
  }

  add(event: RecallEvent.RecallEvent): void {
    this.messages++
    const name = event.event === "unknown" ? event.name : event.event
    this.byName.set(name, (this.byName.get(name) ?? 0) + 1)
    if (event.event === "unknown") this.unknown.add(name)
  }

  /** `counts` with what was counted added (the same object when nothing was), and the counter empty again. */
  addTo<C extends Counts>(counts: C): C {
    if (this.messages === 0) return counts
    const byEvent = NameRecord.copy(counts.byEvent)
    let unknownEvents = counts.unknownEvents
    let listedNames = Object.keys(unknownEvents).length
    let unlisted = counts.unlistedUnknownEvents
    for (const [name, count] of this.byName) {
      if (!this.unknown.has(name)) {
        byEvent[name] = (NameRecord.get(byEvent, name) ?? 0) + count
        continue
      }
      if (!isListed(unknownEvents, listedNames, name, this.limits)) {
        unlisted += count
        continue
      }
      if (unknownEvents === counts.unknownEvents) unknownEvents = NameRecord.copy(unknownEvents)
      const before = NameRecord.get(unknownEvents, name)
      if (before === undefined) listedNames++
      ;(unknownEvents as Record<string, number>)[name] = (before ?? 0) + count
      byEvent[name] = (NameRecord.get(byEvent, name) ?? 0) + count
    }
    const next: C = {
      ...counts,
      messages: counts.messages + this.messages,
      byEvent,
      unknownEvents,
      unlistedUnknownEvents: unlisted
    }
    this.byName.clear()
    this.unknown.clear()
    this.messages = 0
    return next
  }
}
