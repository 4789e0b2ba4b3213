import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"

/**
 * At most `limit` open file handles of one session (its WAV tracks and H.264 streams), the least recently used
 * closed first when another is needed. A closed handle is opened again on demand (a WAV writer continues its file
 * at its end), so the limit costs reopening, never data. Each handle lives in a scope of its own under the pool's,
 * so closing it runs its finalizers (a WAV header's last patch). The pool's scope is made when the pool is, so
 * finalizers the caller adds after making the pool (a last flush) run while every handle is still open.
 *
 * @internal
 */
export interface HandlePool<H, E> {
  /** The open handle of `key`, opened (closing the least recently used one when full) if need be. */
  readonly get: (key: string, open: Effect.Effect<H, E, Scope.Scope>) => Effect.Effect<H, E>
  /** Handles open now. */
  readonly size: () => number
  /** Handles closed to make room, so far. */
  readonly closed: () => number
  /** Every open handle, least recently used first. */
  readonly entries: () => ReadonlyArray<readonly [string, H]>
}

/** @internal */
export const make = <H, E>(
  limit: number,
  onClose: (key: string) => void
): Effect.Effect<HandlePool<H, E>, never, Scope.Scope> =>
  Effect.map(Effect.flatMap(Effect.scope, (scope) => Scope.fork(scope, ExecutionStrategy.sequential)), (parent) => {
    // a Map iterates in insertion order: deleting and setting again on use keeps the least recent first
    const open = new Map<string, { readonly handle: H; readonly scope: Scope.CloseableScope }>()
    let closedCount = 0

    const evict = Effect.suspend(() => {
      const oldest = open.keys().next()
      if (oldest.done === true) return Effect.void
      const entry = open.get(oldest.value)!
      open.delete(oldest.value)
      closedCount++
      onClose(oldest.value)
      return Scope.close(entry.scope, Exit.void)
    })

    const get = (key: string, acquire: Effect.Effect<H, E, Scope.Scope>): Effect.Effect<H, E> =>
      Effect.suspend(() => {
        const entry = open.get(key)
        if (entry !== undefined) {
          open.delete(key)
          open.set(key, entry)
          return Effect.succeed(entry.handle)
        }
        return Effect.gen(function*() {
          while (open.size >= Math.max(1, limit)) yield* evict
          const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
          const handle = yield* acquire.pipe(
            Scope.extend(scope),
            Effect.onError(() => Scope.close(scope, Exit.void))
          )
          open.set(key, { handle, scope })
          return handle
        })
      })

    return {
      get,
      size: () => open.size,
      closed: () => closedCount,
      entries: () => Array.from(open, ([key, entry]) => [key, entry.handle] as const)
    }
  })
