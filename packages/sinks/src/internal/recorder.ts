import type { SessionEvent, SessionKey } from "@callstream/core"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type * as AudioTimeline from "../AudioTimeline.js"
import * as RecorderMetrics from "../RecorderMetrics.js"
import type * as FlushScheduler from "./flushScheduler.js"
import * as OpenSession from "./openSession.js"
import type * as SessionWriter from "./sessionWriter.js"

/**
 * One consumer for every session of a flat Stream of events: each chunk is dispatched item by item, synchronously,
 * to its session's writer (a `Map` by session key), so the cost of a wake-up is paid once per chunk of the whole
 * source, not once per session, and no session has a fiber or a Stream of its own. A long chunk (a backlog) is
 * dispatched a slice at a time, the event loop coming round in between, so flushes keep their pace while the
 * recorder catches up.
 *
 * A session's first event starts setting its folder up (make it, restore an earlier run, open the tape): that is
 * asynchronous, so the session's events are held until it is done, then applied in order, a slice at a time (what
 * comes meanwhile held behind them). `SessionEnded` closes the session (last flush, derived files, checkpoint, files
 * closed) in the background; one whose reason is `handover` is not applied (the files say what they said before it,
 * and another recorder continues them), and its position is reported once the files are closed. Events of the same
 * key that come meanwhile (the meeting starts again) are held, and open the folder again once it is closed. A
 * session that cannot be set up is logged and its events are dropped until its end, so the others never wait for it.
 *
 * Memory is bounded across sessions: `maxPendingTotal` bytes of output collected and not written yet, and events
 * held for sessions being set up, all sessions together. Past it, the consumer stops taking chunks and flushes
 * until the total is below it again: the source backs up (the server pauses sockets and sheds media with `Dropped`
 * records, its own policy). A session that holds `maxPendingBytes` flushes at once. One whose tape or control log
 * cannot be written is waited for (its events are never dropped while nothing else can be written, as on a full
 * disk), but only until another session's logs are written: the disk then works, just not for it, and it gives up
 * what its logs hold (counted in its `session.json` as lost, and logged) instead of holding every session back.
 *
 * @internal
 */

/** @internal */
export interface Settings {
  /** The folder of the session folders. */
  readonly directory: string
  readonly audio: AudioTimeline.Options | undefined
  /** A session's writer settings, given its folder and the recorder's hooks. */
  readonly writer: (
    key: SessionKey.SessionKey,
    folder: string,
    hooks: Pick<SessionWriter.Settings, "onPending" | "onFull" | "onLogsWritten">
  ) => SessionWriter.Settings
  readonly maxPendingTotal: number
  /** Sessions whose files are finished at the same time (at the end, or as they end). */
  readonly closeConcurrency: number
  /** Hears a handover's position once the session's files are finished (see `SessionRecorder.Options.onFlushed`). */
  readonly onFlushed: ((session: SessionKey.SessionKey, position: string) => Effect.Effect<void>) | undefined
}

/** @internal */
export interface Recorder {
  /** Dispatches a chunk; waits only when too much is waiting to be written. */
  readonly accept: (items: Chunk.Chunk<SessionEvent.SessionEvent>) => Effect.Effect<void>
  /** The source ended: finishes every session and waits until all are closed. */
  readonly end: Effect.Effect<void>
}

/** `releasing`: open, its held events being applied a slice at a time (what comes meanwhile is held too). */
type Phase = "opening" | "releasing" | "live" | "closing" | "broken"

interface Entry {
  readonly key: SessionKey.SessionKey
  phase: Phase
  writer: SessionWriter.SessionWriter | undefined
  scope: Scope.CloseableScope | undefined
  /** Events that came while the session was being set up or closed. */
  held: Array<SessionEvent.SessionEvent>
  heldBytes: number
  flushing: boolean
  /** The position of the handover that closes the session, reported once its files are finished. */
  handover: string | undefined
}

const isHandover = (item: SessionEvent.SessionEvent): item is SessionEvent.SessionEnded =>
  item._tag === "SessionEnded" && item.reason === "handover"

/** What an event held for a session being set up counts against the budget. */
const weightOf = (item: SessionEvent.SessionEvent): number => item._tag === "Message" ? (item.raw?.length ?? 1024) : 256

/**
 * Events of one chunk applied before the consumer lets the event loop come round (timers, finished writes, other
 * fibers). A source that fell behind hands its backlog over in long chunks (a `Mailbox` up to 8,192 events at
 * once); applied in one go, each held the flush timer and the writes' completions up for about a second, and a
 * recorder catching up on 10 s of 250 meetings collected 140-160 MB unwritten.
 */
const SLICE = 512

/** The rest of a long chunk waits for the end of this turn of the event loop (see {@link SLICE}). */
const nextTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/** How long the consumer sleeps when a wait made no progress (every flush deferred by a failing disk). */
const RETRY_MS = 100

/** @internal */
export const make = (
  settings: Settings,
  scheduler: FlushScheduler.FlushScheduler
): Effect.Effect<Recorder, never, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const fibers = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(fibers)<FileSystem.FileSystem | Path.Path>()
    // the sessions' own scopes: closing the recorder's scope (an interruption) finishes them, several at a time
    const parent = yield* Scope.fork(
      yield* Effect.scope,
      ExecutionStrategy.parallelN(settings.closeConcurrency)
    )
    const closing = yield* Effect.makeSemaphore(settings.closeConcurrency)
    const done = yield* Deferred.make<void>()

    const sessions = new Map<SessionKey.SessionKey, Entry>()
    /** Bytes every writer holds unwritten, plus the events held for sessions being set up. */
    let pending = 0
    /** Sessions whose writer holds `maxPendingBytes` or more. */
    const full = new Set<Entry>()
    let logsWrittenAt = 0
    let ending = false

    // what waits to be written, for `/metrics`: this recorder's share of the gauge (recorders of one process add up),
    // taken back when it closes
    let reported = 0
    const report = (value: number) =>
      Effect.suspend(() => {
        const delta = value - reported
        reported = value
        return delta === 0 ? Effect.void : Metric.incrementBy(RecorderMetrics.pendingBytes, delta)
      })
    yield* Effect.addFinalizer(() => report(0))
    yield* Effect.forkScoped(Effect.repeat(Effect.suspend(() => report(pending)), Schedule.spaced("1 second")))

    const checkDone = () => {
      if (ending && sessions.size === 0) Deferred.unsafeDone(done, Exit.void)
    }

    const hooksOf = (entry: Entry): Pick<SessionWriter.Settings, "onPending" | "onFull" | "onLogsWritten"> => ({
      onPending: (delta) => {
        pending += delta
      },
      onFull: (isFull) => {
        if (isFull) full.add(entry)
        else full.delete(entry)
      },
      onLogsWritten: (now) => {
        logsWrittenAt = Math.max(logsWrittenAt, now)
      }
    })

    // a handover's position is reported once nothing more of the session will be written
    const handedOver = (session: SessionKey.SessionKey, position: string | undefined): Effect.Effect<void> =>
      position === undefined || settings.onFlushed === undefined
        ? Effect.void
        : settings.onFlushed(session, position).pipe(
          Effect.catchAllCause((cause) => Effect.logWarning("onFlushed failed after a handover", cause))
        )

    const dispatch = (item: SessionEvent.SessionEvent, now: number): void => {
      let entry = sessions.get(item.session)
      if (entry === undefined) {
        // a session handed over that is not open here has nothing to finish: its folder is not opened for it
        if (isHandover(item)) {
          run(handedOver(item.session, item.position))
          return
        }
        entry = {
          key: item.session,
          phase: "opening",
          writer: undefined,
          scope: undefined,
          held: [],
          heldBytes: 0,
          flushing: false,
          handover: undefined
        }
        sessions.set(item.session, entry)
        open(entry)
      }
      switch (entry.phase) {
        case "live":
          applyLive(entry, item, now)
          return
        case "broken":
          if (item._tag === "SessionEnded") {
            sessions.delete(entry.key)
            checkDone()
            if (isHandover(item)) run(handedOver(item.session, item.position))
          }
          return
        default: {
          const weight = weightOf(item)
          entry.held.push(item)
          entry.heldBytes += weight
          pending += weight
        }
      }
    }

    // an event for a session that is open: applied, and a `SessionEnded` closes the session (true then); a handover
    // is not applied (not the meeting's end: its successor goes on from the files, as after the source's end)
    const applyLive = (entry: Entry, item: SessionEvent.SessionEvent, now: number): boolean => {
      if (item._tag !== "SessionEnded") {
        entry.writer!.apply(item, now)
        return false
      }
      if (isHandover(item)) entry.handover = item.position
      else entry.writer!.apply(item, now)
      close(entry)
      return true
    }

    // the events held for a session go through `dispatch` again, in order, once it is broken or closed
    const release = (entry: Entry) => {
      const held = entry.held
      entry.held = []
      pending -= entry.heldBytes
      entry.heldBytes = 0
      const now = clock.unsafeCurrentTimeMillis()
      for (const item of held) dispatch(item, now)
    }

    // the events held for a session that is now open are applied a slice at a time, the event loop coming round in
    // between (a slow disk can hold many: applied in one go, they were one long turn), and what comes meanwhile is
    // held behind them; a `SessionEnded` among them closes the session, the rest waiting for it to open again
    const releaseLive = (entry: Entry): Effect.Effect<void> =>
      Effect.suspend(() => {
        entry.phase = "releasing"
        const held = entry.held
        entry.held = []
        return applyHeld(entry, held, 0)
      })

    const applyHeld = (entry: Entry, held: Array<SessionEvent.SessionEvent>, from: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const to = Math.min(held.length, from + SLICE)
        for (let i = from; i < to; i++) {
          const item = held[i]!
          const weight = weightOf(item)
          pending -= weight
          entry.heldBytes -= weight
          // what follows a `SessionEnded` waits for the session to open again
          if (item._tag === "SessionEnded") entry.held = held.slice(i + 1).concat(entry.held)
          if (applyLive(entry, item, now)) return Effect.void
        }
        // a session that reached its own bound flushes in the background, as one fed by chunks does
        if (full.has(entry)) flushSoon(entry)
        if (to < held.length) return Effect.zipRight(nextTurn, applyHeld(entry, held, to))
        if (entry.held.length > 0) return releaseLive(entry)
        entry.phase = "live"
        if (ending) close(entry)
        return Effect.void
      })

    const open = (entry: Entry): void => {
      entry.phase = "opening"
      const opening = Effect.gen(function*() {
        const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
        const writer = yield* OpenSession.open(
          entry.key,
          settings.directory,
          settings.audio,
          (folder) => settings.writer(entry.key, folder, hooksOf(entry)),
          scheduler
        ).pipe(Scope.extend(scope), Effect.onError(() => Scope.close(scope, Exit.void)))
        return { writer, scope }
      })
      run(opening.pipe(
        Effect.matchCauseEffect({
          onSuccess: ({ scope, writer }) =>
            Effect.suspend(() => {
              entry.writer = writer
              entry.scope = scope
              // once begun, the held events are all applied (an interruption waits for it), as when in one go
              return Effect.uninterruptible(releaseLive(entry))
            }),
          onFailure: (cause) =>
            Cause.isInterruptedOnly(cause) ?
              Effect.void :
              OpenSession.failed(entry.key, settings.directory, cause).pipe(
                Effect.zipRight(Effect.sync(() => {
                  entry.phase = "broken"
                  release(entry)
                  if (ending && entry.phase === "broken") {
                    sessions.delete(entry.key)
                    checkDone()
                  }
                }))
              )
        })
      ))
    }

    const close = (entry: Entry): void => {
      entry.phase = "closing"
      full.delete(entry)
      const scope = entry.scope!
      run(
        closing.withPermits(1)(Scope.close(scope, Exit.void)).pipe(
          Effect.uninterruptible,
          Effect.zipRight(Effect.suspend(() => {
            const handover = entry.handover
            entry.handover = undefined
            return handedOver(entry.key, handover)
          })),
          Effect.zipRight(Effect.sync(() => {
            entry.writer = undefined
            entry.scope = undefined
            if (entry.held.length > 0) {
              // the meeting started again while its files were being finished: open the folder again
              open(entry)
              return
            }
            sessions.delete(entry.key)
            checkDone()
          }))
        )
      )
    }

    // a session that reached its own bound flushes now, in the background
    const flushSoon = (entry: Entry): void => {
      const writer = entry.writer
      if (entry.flushing || writer === undefined) return
      entry.flushing = true
      run(Effect.ensuring(writer.flush, Effect.sync(() => (entry.flushing = false))))
    }

    const flushAll = Effect.suspend(() => {
      const writers: Array<SessionWriter.SessionWriter> = []
      for (const entry of sessions.values()) {
        if ((entry.phase === "live" || entry.phase === "releasing") && entry.writer!.pending() > 0) {
          writers.push(entry.writer!)
        }
      }
      return Effect.forEach(writers, (writer) => writer.flush, { concurrency: 8, discard: true })
    })

    const relieve: Effect.Effect<void> = Effect.suspend(() => {
      const giveUps: Array<Effect.Effect<void>> = []
      let stuck = false
      for (const entry of full) {
        const writer = entry.writer
        if (writer === undefined) continue
        const logs = writer.logs()
        if (logs.failingSince === 0) flushSoon(entry)
        else if (logsWrittenAt > logs.failingSince) giveUps.push(writer.giveUpLogs)
        else stuck = true
      }
      if (giveUps.length > 0) return Effect.zipRight(Effect.all(giveUps, { discard: true }), relieve)
      if (!stuck && pending <= settings.maxPendingTotal) return Effect.void
      const before = pending
      const wait = pending > settings.maxPendingTotal ? flushAll : Effect.void
      return wait.pipe(
        Effect.zipRight(Effect.suspend(() => pending < before ? Effect.void : Effect.sleep(RETRY_MS))),
        Effect.zipRight(relieve)
      )
    })

    // events [from, to) of a chunk; waits when too much is collected
    const acceptSlice = (items: ReadonlyArray<SessionEvent.SessionEvent>, from: number, to: number) => {
      const now = clock.unsafeCurrentTimeMillis()
      for (let i = from; i < to; i++) dispatch(items[i]!, now)
      return full.size === 0 && pending <= settings.maxPendingTotal ? Effect.void : relieve
    }

    // a long chunk goes a slice at a time, the event loop coming round in between
    const acceptFrom = (items: ReadonlyArray<SessionEvent.SessionEvent>, from: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        const to = Math.min(items.length, from + SLICE)
        const accepted = acceptSlice(items, from, to)
        return to === items.length
          ? accepted
          : Effect.zipRight(accepted, Effect.zipRight(nextTurn, acceptFrom(items, to)))
      })

    const accept = (items: Chunk.Chunk<SessionEvent.SessionEvent>): Effect.Effect<void> =>
      acceptFrom(Chunk.toReadonlyArray(items), 0)

    const end = Effect.suspend(() => {
      ending = true
      for (const entry of sessions.values()) {
        if (entry.phase === "live") close(entry)
        else if (entry.phase === "broken") sessions.delete(entry.key)
      }
      checkDone()
      return Deferred.await(done)
    })

    return { accept, end }
  })
