import type { SessionEvent } from "@callstream/core"
import * as EventLog from "@callstream/redis/EventLog"
import * as Publisher from "@callstream/redis/Publisher"
import { RecallServer } from "@callstream/server"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as RedisSettings from "../RedisSettings.js"
import type { Recording } from "./recording.js"
import type { SettingsError } from "./settingsError.js"

/**
 * Connects to Redis, then starts a server whose events are published to it instead of recorded (a receiver of a
 * scale-out deployment). `observe` sees every event on its way to Redis, a chunk at a time. Redis is reached
 * before the port is bound, so an unreachable Redis leaves nothing listening. `stop` shuts the server down
 * gracefully (its sessions end with the server), waits until the publisher has written everything, then closes
 * the connections to Redis.
 *
 * @internal
 */
export const serveAndPublish = (
  options: RecallServer.Options,
  redis: RedisSettings.RedisSettings,
  observe: (items: Chunk.Chunk<SessionEvent.SessionEvent>) => Effect.Effect<void>
): Effect.Effect<Recording, RecallServer.RecallServerError | SettingsError> =>
  Effect.gen(function*() {
    const logScope = yield* Scope.make()
    const log = yield* RedisSettings.connect(redis).pipe(
      Scope.extend(logScope),
      Effect.onError((cause) => Scope.close(logScope, Exit.failCause(cause)))
    )
    const serverScope = yield* Scope.make()
    const server = yield* RecallServer.make(options).pipe(
      Scope.extend(serverScope),
      Effect.onError((cause) =>
        Effect.zipRight(Scope.close(serverScope, Exit.failCause(cause)), Scope.close(logScope, Exit.void))
      )
    )
    const publishing = yield* Publisher.run(
      server.events.pipe(Stream.mapChunksEffect((items) => Effect.as(observe(items), items))),
      { partitions: redis.partitions }
    ).pipe(
      Effect.provideService(EventLog.EventLog, log),
      Effect.tapErrorCause((cause) => Effect.logError("Publishing stopped", cause)),
      Effect.forkDaemon
    )
    return {
      server,
      stop: Scope.close(serverScope, Exit.void).pipe(
        Effect.zipRight(Fiber.join(publishing).pipe(Effect.ignore)),
        Effect.ensuring(Scope.close(logScope, Exit.void))
      ),
      // a publisher that stops is logged, and the server goes on (its sessions then back up and shed media)
      broken: Effect.never
    }
  })
