import type * as EventLog from "@callstream/redis/EventLog"
import * as MemoryEventLog from "@callstream/redis/MemoryEventLog"
import * as RedisEventLog from "@callstream/redis/RedisEventLog"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { serverForFile } from "./redisForFile.js"
import { redisAvailable } from "./redisServer.js"

/** One log implementation the shared suites run against. */
export interface Backend {
  readonly name: string
  readonly skip: boolean
  /** A fresh, empty log (Redis: a new key prefix on the file's server). */
  readonly layer: () => Layer.Layer<EventLog.EventLog, EventLog.EventLogError>
}

/**
 * The backends of a test file: the in-memory log, and Redis on a server this file starts (and stops) itself.
 */
export const backends = (): ReadonlyArray<Backend> => {
  const withRedis = redisAvailable()
  const server = withRedis ? serverForFile() : undefined
  let prefixes = 0
  return [
    { name: "Memory", skip: false, layer: () => MemoryEventLog.layer },
    {
      name: "Redis",
      skip: !withRedis,
      layer: () =>
        Layer.suspend(() => RedisEventLog.layer({ url: Redacted.make(server!().url), prefix: `test${++prefixes}:` }))
    }
  ]
}
