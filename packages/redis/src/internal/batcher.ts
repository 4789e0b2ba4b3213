import type * as SessionEvent from "@callstream/core/SessionEvent"
import type * as SessionKey from "@callstream/core/SessionKey"
import * as LogEntry from "../LogEntry.js"

/** An entry ready for the log, with what it weighs. */
export interface Ready {
  readonly partition: number
  readonly payload: string
  readonly events: number
}

export interface BatcherOptions {
  readonly receiver: string
  readonly partitions: number
  /** Media may wait this long for company in an entry; 0 writes every event at the end of its input chunk. */
  readonly coalesceMs: number
  readonly maxEntryBytes: number
  readonly maxEntryEvents: number
}

interface Open {
  readonly items: Array<LogEntry.Item>
  bytes: number
  readonly openedAt: number
  /** Holds something that is not media: written at the end of the current input chunk. */
  urgent: boolean
}

interface Chain {
  previous: number
  readonly counts: [number, number, number]
}

/**
 * Groups a receiver's events into entries, per session and in order: an entry is closed at the end of the input
 * chunk when it holds anything but audio and video, when its oldest event has waited `coalesceMs`, when it is full,
 * and at its session's end. Synchronous; the publisher drains `ready` in order.
 */
export class Batcher {
  private seq = 0
  private readonly open = new Map<SessionKey.SessionKey, Open>()
  private readonly chains = new Map<SessionKey.SessionKey, Chain>()
  ready: Array<Ready> = []

  constructor(readonly options: BatcherOptions) {}

  add(event: SessionEvent.SessionEvent, now: number): void {
    const session = event.session
    let open = this.open.get(session)
    if (open === undefined) {
      open = { items: [], bytes: 0, openedAt: now, urgent: false }
      this.open.set(session, open)
    }
    let chain = this.chains.get(session)
    if (chain === undefined) {
      chain = { previous: 0, counts: [0, 0, 0] }
      this.chains.set(session, chain)
    }
    const item = LogEntry.itemOf(event)
    open.items.push(item)
    open.bytes += "m" in item ? item.m.length + 64 : 256
    const kind = LogEntry.kindOf(event)
    chain.counts[kind === "audio" ? 0 : kind === "video" ? 1 : 2]++
    if (kind === "other" || this.options.coalesceMs <= 0) open.urgent = true
    if (event._tag === "SessionEnded") {
      this.close(session, open)
      // the receiver's next session with this key starts a new chain
      this.chains.delete(session)
    } else if (open.bytes >= this.options.maxEntryBytes || open.items.length >= this.options.maxEntryEvents) {
      this.close(session, open)
    }
  }

  /** Closes the entries that hold more than media. */
  flushUrgent(): void {
    for (const [session, open] of this.open) if (open.urgent) this.close(session, open)
  }

  /** Closes the entries whose oldest event has waited long enough. */
  flushDue(now: number): void {
    for (const [session, open] of this.open) {
      if (open.urgent || now - open.openedAt >= this.options.coalesceMs) this.close(session, open)
    }
  }

  flushAll(): void {
    for (const [session, open] of this.open) this.close(session, open)
  }

  get pending(): number {
    return this.open.size
  }

  private close(session: SessionKey.SessionKey, open: Open): void {
    this.open.delete(session)
    if (open.items.length === 0) return
    const chain = this.chains.get(session) ?? { previous: 0, counts: [0, 0, 0] }
    const seq = ++this.seq
    const payload = LogEntry.encode({
      _tag: "Batch",
      session,
      receiver: this.options.receiver,
      seq,
      previous: chain.previous,
      counts: [chain.counts[0], chain.counts[1], chain.counts[2]],
      items: open.items
    })
    chain.previous = seq
    this.ready.push({
      partition: LogEntry.partitionOf(session, this.options.partitions),
      payload,
      events: open.items.length
    })
  }
}
