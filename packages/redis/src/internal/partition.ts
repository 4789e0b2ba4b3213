import type * as SessionKey from "@callstream/core/SessionKey"
import * as Schema from "effect/Schema"
import * as SessionMerge from "../SessionMerge.js"

/** An entry read and not yet acknowledged. */
export interface InFlight {
  readonly id: string
  /** `undefined` for an entry that names no session (it could not be read). */
  readonly session: SessionKey.SessionKey | undefined
  /** The position of the last event derived from it, if any. */
  readonly last: string | undefined
  /** The session's state after it (`undefined`: the session ended or never started). */
  readonly state: SessionMerge.State | undefined
  acknowledged: boolean
}

/** What can be acknowledged now, with the checkpoints that go with it. */
export interface Settled {
  readonly entries: ReadonlyArray<InFlight>
  readonly checkpoints: ReadonlyArray<readonly [string, string | null]>
}

const encodeState = Schema.encodeSync(Schema.parseJson(SessionMerge.State))
const decodeState = Schema.decodeUnknownEither(Schema.parseJson(SessionMerge.State))

/** What the names of sessions' checkpoints start with. */
export const SESSION_CHECKPOINT = "session:"

/** The checkpoint that holds a session's merge state. */
export const checkpointName = (session: SessionKey.SessionKey): string => `${SESSION_CHECKPOINT}${session}`

export { decodeState }

/**
 * What a worker keeps about a partition it owns: entries in flight, in read order; each session's latest merge
 * state (`null`: ended, or nothing to keep); the position up to which the consumer committed each session.
 *
 * An entry is done once it gave no event or its session is committed up to its last event. Acknowledgements go
 * per session in order (an entry only after every earlier entry of its session), so the checkpoint saved with them
 * is exactly the state after the acknowledged entries, and a successor that reads the unacknowledged rest from
 * there derives the same events at the same positions.
 */
export class PartitionState {
  readonly inflight: Array<InFlight> = []
  readonly sessions = new Map<SessionKey.SessionKey, SessionMerge.State | null>()
  readonly committed = new Map<SessionKey.SessionKey, string>()
  /** Sessions whose `Expire` (or `ReceiverLost`, by `session/receiver`) note was written and not read back yet. */
  readonly noted = new Set<string>()
  /** Everything up to this id is acknowledged. */
  frontier: string | undefined = undefined
  trimmed: string | undefined = undefined
  claimed = false
  /**
   * Sessions whose events this worker emitted and that have not ended, with the position of the last one: what a
   * handover ends here.
   */
  readonly emitted = new Map<SessionKey.SessionKey, string>()
  /** The position of each handover emitted: the partition is released once the consumer committed all of them. */
  readonly handovers = new Map<SessionKey.SessionKey, string>()
  /** Being handed over: not read any more, released once everything read is acknowledged. */
  draining = false
  /** The handover's `SessionEnded`s were emitted (after everything read of the partition). */
  handedOver = false
  /** When the handover started, or when the worker last said it still waits for the consumer's commits. */
  waitedSince = 0

  constructor(readonly partition: number, public validUntil: number) {}

  record(entry: InFlight): void {
    this.inflight.push(entry)
  }

  commit(session: SessionKey.SessionKey, position: string): void {
    const before = this.committed.get(session)
    if (before === undefined || position > before) this.committed.set(session, position)
  }

  /** Handovers the consumer has not committed yet. */
  handoversWaiting(): number {
    let waiting = 0
    for (const [session, position] of this.handovers) {
      const committed = this.committed.get(session)
      if (committed === undefined || committed < position) waiting++
    }
    return waiting
  }

  settle(): Settled {
    const blocked = new Set<SessionKey.SessionKey>()
    const entries: Array<InFlight> = []
    const latest = new Map<SessionKey.SessionKey, SessionMerge.State | undefined>()
    for (const entry of this.inflight) {
      if (entry.acknowledged) continue
      const session = entry.session
      if (session === undefined) {
        entries.push(entry)
        continue
      }
      if (blocked.has(session)) continue
      const committed = this.committed.get(session)
      if (entry.last === undefined || (committed !== undefined && committed >= entry.last)) {
        entries.push(entry)
        latest.set(session, entry.state)
      } else {
        blocked.add(session)
      }
    }
    const checkpoints = Array.from(
      latest,
      ([session, state]) => [checkpointName(session), state === undefined ? null : encodeState(state)] as const
    )
    return { entries, checkpoints }
  }

  /** Marks entries acknowledged; the frontier moves past the acknowledged ones at the head, which are forgotten. */
  acknowledged(entries: ReadonlyArray<InFlight>): void {
    for (const entry of entries) entry.acknowledged = true
    let head = 0
    while (head < this.inflight.length && this.inflight[head]!.acknowledged) {
      this.frontier = this.inflight[head]!.id
      head++
    }
    this.inflight.splice(0, head)
    for (const entry of entries) {
      const session = entry.session
      if (session === undefined || this.sessions.get(session) !== null) continue
      if (!this.inflight.some((e) => e.session === session && !e.acknowledged)) {
        this.sessions.delete(session)
        this.committed.delete(session)
      }
    }
  }
}
