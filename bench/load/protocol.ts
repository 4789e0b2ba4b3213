/**
 * What the load harness and its child processes say to each other: the generator over Node's IPC channel, the
 * servers under test as one JSON line on stdout when they stop.
 */

/** The harness asks the generator to play a load. */
export interface Plan {
  readonly type: "plan"
  /** The servers' websocket URLs (with any token); bots are spread over them round-robin. */
  readonly urls: ReadonlyArray<string>
  readonly bots: number
  /** Webcams per bot (see `Messages.cycleOf`). */
  readonly cameras: number
  /** Connections open evenly over this time. */
  readonly rampMs: number
  /** Every bot sends until this long after the plan starts, then leaves and closes. */
  readonly sendMs: number
  readonly handshakeTimeoutMs: number
  /** How many connections are pinged, each once per `pingIntervalMs`. */
  readonly pingSample: number
  readonly pingIntervalMs: number
  /** A connection whose unsent bytes exceed this skips messages (counted) instead of buffering more. */
  readonly maxBufferedBytes: number
  /** How long bots wait for the server's close frame before cutting the connection. */
  readonly closeTimeoutMs: number
}

/** The harness asks how much audio each bot has sent so far. */
export interface SnapshotRequest {
  readonly type: "snapshot"
}

/** Everything the harness sends the generator. */
export type ToGenerator = Plan | SnapshotRequest

/** Seconds of audio written to each bot's socket so far, by bot id. */
export interface Snapshot {
  readonly type: "snapshot"
  readonly at: number
  readonly audioSeconds: Readonly<Record<string, number>>
}

/** What happened to one bot. */
export interface BotResult {
  readonly botId: string
  /** Epoch ms of the open, or null when the handshake failed. */
  readonly openedAt: number | null
  /** Ms from starting the connection (TCP connect and opening handshake) to the open; null when it failed. */
  readonly handshakeMs: number | null
  /** Why the handshake failed: "timeout", "http 401", an errno code... */
  readonly failure: string | null
  /** Close code when the server closed the connection before the bot left; null when it held. */
  readonly droppedWith: number | null
  /** Messages handed to the socket and confirmed written. */
  readonly written: number
  /** Messages not sent because the server had stopped reading this connection (its send buffer was full). */
  readonly skipped: number
  /** Messages whose write failed (the connection was gone). */
  readonly failed: number
  /** Whether the close handshake finished; false when the bot had to cut the connection. */
  readonly closedCleanly: boolean
}

/** The generator's report at the end of a load. */
export interface Result {
  readonly type: "result"
  readonly startedAt: number
  /** When sending stopped, epoch ms. */
  readonly sendEndedAt: number
  readonly bots: ReadonlyArray<BotResult>
  /** Ping round trips: [epoch ms of the ping, round trip ms]. */
  readonly pings: ReadonlyArray<readonly [number, number]>
  readonly pingsUnanswered: number
  /** How late sends were against their schedule, ms: the generator's own health. */
  readonly lateness: { readonly p50: number; readonly p99: number; readonly max: number }
}

/** The generator is listening for its plan. */
export interface Ready {
  readonly type: "ready"
}

/** Everything the generator sends the harness. */
export type FromGenerator = Ready | Snapshot | Result

/**
 * The line a server under test prints on stdout before it exits, after a SIGTERM: its own counts.
 * `LOAD_RESULT {"messages":123,...}`
 */
export const RESULT_PREFIX = "LOAD_RESULT "

/** What a bare server or the library consumer counted. */
export interface ServerCounts {
  /** Recall messages received (or read by the consumer). */
  readonly messages: number
  /** Every item the consumer read, control events included (library consumer only). */
  readonly events?: number | undefined
  readonly decodeFailures?: number | undefined
  /** PCM bytes decoded from audio chunks (bare servers). */
  readonly pcmBytes?: number | undefined
  readonly sessions?: number | undefined
}
