import type * as RecallEvent from "@callstream/core/RecallEvent"
import type * as SessionEvent from "@callstream/core/SessionEvent"
import type * as SessionKey from "@callstream/core/SessionKey"
import type * as Stream from "effect/Stream"
import { EventBuffer } from "./buffer.js"

/** What the server does to a peer's socket (a `ws` WebSocket has all of it). */
export interface PeerSocket {
  pause(): void
  resume(): void
  ping(): void
  terminate(): void
  close(code: number, reason: string): void
}

/** Media shed for one session and kind: how many, and the meeting-time span they covered. */
export interface DropSpan {
  count: number
  from: number
  to: number
}

/** One websocket connection. Holds: the sessions it fed (bounded per connection), flags and counters. */
export class Connection {
  readonly sessions = new Set<SessionState>()
  lastSession: SessionState | undefined = undefined
  /** How many holders (its sessions' buffers, the memory budget) keep this connection paused. */
  pausedBy = 0
  alive = true
  closed = false
  /** Closed by this server for a limit: frames that still arrive are refused without another close. */
  closing = false
  /** Frames that failed to decode (only the first few are logged). */
  failures = 0
  /** Frames refused for a session limit (only the first is logged). */
  refusals = 0

  constructor(
    readonly id: string,
    readonly socket: PeerSocket,
    readonly remoteAddress: string | undefined,
    readonly openedAt: number
  ) {}
}

/**
 * The router's state of one session: its buffer and the state of its connections. Holds: its key and ids, the
 * connections that feed it (bounded by the connection limit), the ones it keeps paused, two drop spans and one
 * timer. Consumers see it only as a `RecallServer.Session`.
 */
export class SessionState {
  readonly buffer: EventBuffer<SessionEvent.SessionEvent>
  readonly connections = new Set<Connection>()
  readonly paused = new Set<Connection>()
  lastTime: number | undefined = undefined
  /** No connection since `gapFrom` (the last meeting time seen); set when the last connection closed. */
  disconnected = false
  gapFrom: number | undefined = undefined
  awaitingGapEnd = false
  drops: { audio: DropSpan | undefined; video: DropSpan | undefined } = { audio: undefined, video: undefined }
  /** The buffer reached its limit and has not drained to its low-water mark since. */
  full = false
  cancelTimer: (() => void) | undefined = undefined
  ended = false

  constructor(
    readonly key: SessionKey.SessionKey,
    readonly botId: string | null,
    readonly recordingId: string | null,
    readonly metadata: typeof RecallEvent.Metadata.Type,
    readonly startedAt: number,
    maxChunk: number,
    onTake: (session: SessionState, taken: number, bytes: number) => void
  ) {
    this.buffer = new EventBuffer(maxChunk, (taken, bytes) => onTake(this, taken, bytes))
  }

  /** This session's own Stream, for `sessions` (made on first use: readers of `events` never need it). */
  get events(): Stream.Stream<SessionEvent.SessionEvent> {
    return this.buffer.stream
  }
}
