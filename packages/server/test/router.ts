/**
 * A router driven directly, with no socket: a manual clock, timers run on demand, logs kept, and consumers that
 * take what each session buffered. The router is synchronous, so thousands of frames cost milliseconds.
 */
import type { SessionEvent } from "@callstream/core"
import * as Router from "../src/internal/router.js"
import { Connection, type PeerSocket, type SessionState } from "../src/internal/state.js"

/** A socket that only records what was done to it. */
export class RecordingSocket implements PeerSocket {
  paused = false
  pauses = 0
  closedWith: { readonly code: number; readonly reason: string } | undefined = undefined
  terminated = false
  pings = 0
  pause() {
    this.paused = true
    this.pauses++
  }
  resume() {
    this.paused = false
  }
  ping() {
    this.pings++
  }
  terminate() {
    this.terminated = true
  }
  close(code: number, reason: string) {
    this.closedWith = { code, reason }
  }
}

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, string | number | undefined>>
}

export const defaultOptions: Router.RouterOptions = {
  bufferSize: 1024,
  bufferBytes: 16 * 1024 * 1024,
  memoryBudget: 256 * 1024 * 1024,
  sessionTimeoutMs: 1_000,
  maxChunk: 4096,
  maxSessions: 10_000,
  maxSessionsPerConnection: 16
}

export const makeHarness = (options: Partial<Router.RouterOptions> = {}) => {
  let now = 0
  const timers = new Set<{ readonly due: number; readonly f: () => void }>()
  const logs: Array<LogLine> = []
  const sessions: Array<SessionState> = []
  const hooks: { -readonly [K in keyof Router.Hooks]: Router.Hooks[K] } = {
    now: () => now,
    after: (ms, f) => {
      const timer = { due: now + ms, f }
      timers.add(timer)
      return () => void timers.delete(timer)
    },
    log: (level, message, annotations = {}) => void logs.push({ level, message, annotations }),
    published: (session) => void sessions.push(session)
  }
  const router = new Router.Router({ ...defaultOptions, ...options }, hooks)
  let ids = 0

  const connect = (remote = "127.0.0.1") => {
    const socket = new RecordingSocket()
    const connection = new Connection(`c${++ids}`, socket, remote, now)
    router.opened(connection)
    return { connection, socket }
  }

  /** What every consumer has not taken yet, per session key, taken now (as a reader of `events` would). */
  const take = (max = Infinity): Map<string, Array<SessionEvent.SessionEvent>> => {
    const out = new Map<string, Array<SessionEvent.SessionEvent>>()
    for (const session of sessions) {
      const items = session.buffer.takeUpTo(max)
      if (items.length > 0) out.set(session.key, [...(out.get(session.key) ?? []), ...items])
    }
    return out
  }

  /** Moves the clock and runs the timers that fell due. */
  const advance = (ms: number) => {
    now += ms
    for (const timer of Array.from(timers)) {
      if (timer.due <= now) {
        timers.delete(timer)
        timer.f()
      }
    }
  }

  return { router, hooks, logs, sessions, connect, take, advance }
}

/** Sums the outcomes: every frame counts in exactly one of these. */
export const settled = (outcomes: Router.Outcomes): number =>
  outcomes.messages + outcomes.shed + outcomes.decodeFailed + outcomes.unroutable + outcomes.refused
