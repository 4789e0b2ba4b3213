/**
 * The `EventLog` on Redis Streams (Redis 6.2 or newer; Debian's `redis-server` 7.0 is what the tests run), with
 * `ioredis`. A partition is one stream; a consumer group reads it; leases are keys set with `NX PX` and renewed or
 * released by scripts that check their owner; an acknowledgement (`XACK`) and its checkpoints are applied by one
 * script that first checks the lease, so a worker that lost its lease cannot overwrite its successor's state.
 *
 * Keys, under `prefix` (default `callstream:`): `partition:<n>` (a stream), `lease:<name>`, `checkpoints:<n>` (a hash
 * of the partition's checkpoints by name, gone with the last of them), `members:<name>` (a sorted set of a group's
 * members, each scored by when it is forgotten).
 * Appends carry `MAXLEN ~ maxLength` as a safety cap (default 100,000 entries per partition): it only bites when no
 * worker keeps up, and a worker then reports what was lost (see `SessionMerge`). One Redis server (or primary);
 * Redis Cluster is not supported (a commit touches a partition's stream, lease and checkpoints at once).
 *
 * Connections: one for commands, one for blocking reads. Neither queues commands while disconnected nor
 * reconnects on its own: an operation on a lost connection fails at once with `Unavailable` and the next operation
 * reconnects, so callers retry on a `Schedule` of their choice and see every failure. An operation with no reply
 * within `commandTimeout` (a read: its blocking time and then `commandTimeout`) fails with `Unavailable` too, and
 * its connection is dropped, so a Redis that hangs (or a network path that silently loses packets) is seen as
 * gone rather than stalling its callers. A server that cannot be reached (or does not answer) when the Layer is
 * built is a startup error.
 *
 * @example
 * ```ts
 * import { EventLog, RedisEventLog } from "@callstream/redis"
 * import { Effect, Redacted } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const log = yield* EventLog.EventLog
 *   yield* log.append([{ partition: 0, payload: "hello" }])
 * })
 *
 * // `Effect.runPromise(main)` appends to the Redis server at that URL
 * const main = program.pipe(Effect.provide(RedisEventLog.layer({ url: Redacted.make("redis://127.0.0.1:6379") })))
 * ```
 *
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { Redis } from "ioredis"
import * as EventLog from "./EventLog.js"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS). Never logged. */
  readonly url: Redacted.Redacted<string>
  /** Prefix of every key. Default `callstream:`. */
  readonly prefix?: string | undefined
  /** How long to wait for a connection. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * How long an operation waits for its reply (a blocking read: this beyond its blocking time) before it fails
   * and its connection is dropped. Default 10 seconds.
   */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** The approximate most entries a partition keeps (`XADD ... MAXLEN ~`). Default 100,000. */
  readonly maxLength?: number | undefined
}

const LEASE_ACQUIRE = `
local holder = redis.call("GET", KEYS[1])
if holder == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
`

const LEASE_RENEW = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0
`

const LEASE_RELEASE = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
end
return 0
`

// a group's members are a sorted set scored by when each is forgotten, on the server's clock; the set itself lives
// as long as its longest-lived member
const HEARTBEAT = `
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
redis.call("ZADD", KEYS[1], now + ttl, ARGV[1])
if redis.call("PTTL", KEYS[1]) < ttl then redis.call("PEXPIRE", KEYS[1], ttl) end
return redis.call("ZRANGE", KEYS[1], 0, -1)
`

// KEYS: lease, stream, checkpoints (a hash)
// ARGV: owner, group, number of ids, the ids, number of checkpoints to set, each one's name and value, then the
// names of the checkpoints to remove
const COMMIT = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
local ids = tonumber(ARGV[3])
local i = 4
while ids > 0 do
  local n = math.min(ids, 500)
  redis.call("XACK", KEYS[2], ARGV[2], unpack(ARGV, i, i + n - 1))
  i = i + n
  ids = ids - n
end
local sets = tonumber(ARGV[i])
i = i + 1
for k = 1, sets do
  redis.call("HSET", KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call("HDEL", KEYS[3], ARGV[i])
  i = i + 1
end
return 1
`

interface Scripted {
  leaseAcquire(key: string, owner: string, ttl: number): Promise<number>
  leaseRenew(key: string, owner: string, ttl: number): Promise<number>
  leaseRelease(key: string, owner: string): Promise<number>
  commitEntries(lease: string, stream: string, checkpoints: string, ...args: Array<string | number>): Promise<number>
  heartbeat(key: string, member: string, ttl: number): Promise<Array<string>>
}

const defineScripts = (redis: Redis): Redis & Scripted => {
  redis.defineCommand("leaseAcquire", { numberOfKeys: 1, lua: LEASE_ACQUIRE })
  redis.defineCommand("leaseRenew", { numberOfKeys: 1, lua: LEASE_RENEW })
  redis.defineCommand("leaseRelease", { numberOfKeys: 1, lua: LEASE_RELEASE })
  redis.defineCommand("commitEntries", { numberOfKeys: 3, lua: COMMIT })
  redis.defineCommand("heartbeat", { numberOfKeys: 1, lua: HEARTBEAT })
  return redis as Redis & Scripted
}

/** `host:port` of a Redis URL, for messages: never the credentials. */
const describe = (url: string): string => {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port === "" ? "6379" : parsed.port}`
  } catch {
    return "(an invalid URL)"
  }
}

// a fixed-width text for a stream entry id `ms-seq` that sorts as the ids do
const orderOf = (id: string): string => {
  const dash = id.indexOf("-")
  return `${id.slice(0, dash).padStart(15, "0")}-${id.slice(dash + 1).padStart(10, "0")}`
}

const after = (id: string): string => {
  const dash = id.indexOf("-")
  return `${id.slice(0, dash)}-${BigInt(id.slice(dash + 1)) + 1n}`
}

type RawEntry = [id: string, fields: Array<string>]

const toEntry = ([id, fields]: RawEntry): EventLog.Entry => {
  // one field, `e`: the payload
  const at = fields.indexOf("e")
  return { id, order: orderOf(id), payload: at >= 0 && at + 1 < fields.length ? fields[at + 1]! : "" }
}

const isReplyError = (cause: unknown): boolean => cause instanceof Error && cause.name === "ReplyError"

/**
 * Connects (failing with `Unavailable` when Redis cannot be reached) and returns the log; closing the Scope
 * closes the connections.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const url = Redacted.value(options.url)
  const where = describe(url)
  const prefix = options.prefix ?? "callstream:"
  const maxLength = options.maxLength ?? 100_000
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    return yield* new EventLog.EventLogError({
      reason: "InvalidOptions",
      operation: "connect",
      cause: new Error("maxLength must be a whole number from 1")
    })
  }
  const connectTimeout = Duration.toMillis(options.connectTimeout ?? Duration.seconds(5))
  const commandTimeout = Duration.decode(options.commandTimeout ?? Duration.seconds(10))
  // the last error event of each connection: a failed connect only says "Connection is closed."
  const errors = new WeakMap<Redis, Error>()

  const open = (name: string) =>
    Effect.acquireRelease(
      Effect.try({
        try: () =>
          defineScripts(
            new Redis(url, {
              lazyConnect: true,
              enableOfflineQueue: false,
              maxRetriesPerRequest: 0,
              retryStrategy: () => null,
              connectTimeout,
              connectionName: `callstream-${name}`
            })
          ),
        catch: (cause) =>
          new EventLog.EventLogError({
            reason: "InvalidOptions",
            operation: "connect",
            cause: new Error(`not a Redis URL (${where}): ${cause instanceof Error ? cause.message : String(cause)}`)
          })
      }),
      (redis) => Effect.sync(() => redis.disconnect())
    ).pipe(Effect.tap((redis) => {
      // errors also reach the failing operation; an "error" event without a listener would be thrown
      redis.on("error", (error: Error) => errors.set(redis, error))
    }))

  const commands = yield* open("commands")
  const reader = yield* open("reader")

  const connect = (redis: Redis): Promise<void> =>
    redis.status === "wait" || redis.status === "end" || redis.status === "close"
      ? redis.connect()
      : Promise.resolve()

  const detail = (redis: Redis, cause: unknown): string => {
    if (!(cause instanceof Error)) return String(cause)
    const event = errors.get(redis)
    return cause.message === "Connection is closed." && event !== undefined ? event.message : cause.message
  }

  const run = <A>(
    operation: string,
    redis: Redis,
    f: (redis: Redis & Scripted) => Promise<A>,
    waits: Duration.Duration = Duration.zero
  ) =>
    Effect.tryPromise({
      try: () => {
        errors.delete(redis)
        return connect(redis).then(() => f(redis as Redis & Scripted))
      },
      catch: (cause) =>
        new EventLog.EventLogError({
          reason: isReplyError(cause) ? "Rejected" : "Unavailable",
          operation,
          cause: new Error(`Redis at ${where}: ${detail(redis, cause)}`)
        })
    }).pipe(
      Effect.timeout(Duration.sum(waits, commandTimeout)),
      Effect.catchTag("TimeoutException", () =>
        // whatever else the connection waits for fails with it; the next operation connects again
        Effect.zipRight(
          Effect.sync(() => redis.disconnect()),
          new EventLog.EventLogError({
            reason: "Unavailable",
            operation,
            cause: new Error(
              `Redis at ${where}: no reply within ${Duration.format(Duration.sum(waits, commandTimeout))}`
            )
          })
        ))
    )

  yield* run("connect", commands, (redis) => redis.ping())
  yield* run("connect", reader, (redis) => redis.ping())

  const stream = (partition: number) => `${prefix}partition:${partition}`
  const leaseKey = (name: string) => `${prefix}lease:${name}`
  const checkpointsKey = (partition: number) => `${prefix}checkpoints:${partition}`
  const groupKey = (name: string) => `${prefix}members:${name}`

  const joinGroup = (redis: Redis, partition: number, group: string) =>
    redis.xgroup("CREATE", stream(partition), group, "0", "MKSTREAM").catch((error: unknown) => {
      if (error instanceof Error && error.message.startsWith("BUSYGROUP")) return "OK"
      throw error
    })

  const log: EventLog.EventLog = {
    append: (entries) =>
      entries.length === 0 ? Effect.void : run("append", commands, async (redis) => {
        const pipeline = redis.pipeline()
        for (const { partition, payload } of entries) {
          pipeline.xadd(stream(partition), "MAXLEN", "~", maxLength, "*", "e", payload)
        }
        const results = (await pipeline.exec()) ?? []
        for (const [error] of results) if (error) throw error
      }),
    read: ({ block, consumer, count, group, partitions }) =>
      partitions.length === 0
        ? Effect.as(Effect.sleep(block), [])
        : run("read", reader, async (redis) => {
          const reply = (await redis.call(
            "XREADGROUP",
            "GROUP",
            group,
            consumer,
            "COUNT",
            count,
            "BLOCK",
            Math.max(1, Duration.toMillis(block)),
            "STREAMS",
            ...partitions.map(stream),
            ...partitions.map(() => ">")
          )) as Array<[string, Array<RawEntry>]> | null
          if (reply === null) return []
          return reply.map(([key, entries]): EventLog.Read => ({
            partition: partitions[partitions.map(stream).indexOf(key)]!,
            entries: entries.map(toEntry)
          }))
        }, Duration.decode(block)),
    claim: ({ consumer, group, partition }) =>
      Effect.zipRight(
        run("claim", commands, (redis) => joinGroup(redis, partition, group)),
        run("claim", commands, async (redis) => {
          const entries: Array<EventLog.Entry> = []
          const missing: Array<string> = []
          let start = "0-0"
          do {
            const [next, claimed, deleted] = (await redis.xautoclaim(
              stream(partition),
              group,
              consumer,
              0,
              start,
              "COUNT",
              1000
            )) as [string, Array<RawEntry | null>, Array<string>?]
            for (const entry of claimed) if (entry !== null) entries.push(toEntry(entry))
            for (const id of deleted ?? []) missing.push(id)
            start = next
          } while (start !== "0-0")
          const groups = (await redis.xinfo("GROUPS", stream(partition))) as Array<Array<unknown>>
          const info = groups.find((fields) => fields[fields.indexOf("name") + 1] === group) ?? []
          const delivered = info[info.indexOf("last-delivered-id") + 1]
          return {
            entries,
            missing,
            delivered: typeof delivered === "string" && delivered !== "0-0" ? delivered : undefined
          }
        })
      ),
    commit: ({ checkpoints = [], group, ids, lease, owner, partition }) => {
      const sets = checkpoints.flatMap(([name, value]) => value === null ? [] : [name, value])
      const deletes = checkpoints.flatMap(([name, value]) => value === null ? [name] : [])
      return Effect.map(
        run("commit", commands, (redis) =>
          redis.commitEntries(
            leaseKey(lease),
            stream(partition),
            checkpointsKey(partition),
            owner,
            group,
            ids.length,
            ...ids,
            sets.length / 2,
            ...sets,
            ...deletes
          )),
        (done) => done === 1
      )
    },
    checkpoint: (partition, name) =>
      Effect.map(
        run("checkpoint", commands, (redis) => redis.hget(checkpointsKey(partition), name)),
        Option.fromNullable
      ),
    checkpoints: (partition) =>
      Effect.map(
        run("checkpoints", commands, (redis) => redis.hgetall(checkpointsKey(partition))),
        (all) => Object.entries(all)
      ),
    trim: (partition, id) =>
      Effect.asVoid(run("trim", commands, (redis) => redis.xtrim(stream(partition), "MINID", after(id)))),
    size: (partition) => run("size", commands, (redis) => redis.xlen(stream(partition))),
    acquire: (name, owner, ttl) =>
      Effect.map(
        run("acquire", commands, (redis) => redis.leaseAcquire(leaseKey(name), owner, Duration.toMillis(ttl))),
        (done) => done === 1
      ),
    renew: (name, owner, ttl) =>
      Effect.map(
        run("renew", commands, (redis) => redis.leaseRenew(leaseKey(name), owner, Duration.toMillis(ttl))),
        (done) => done === 1
      ),
    release: (name, owner) =>
      Effect.asVoid(run("release", commands, (redis) => redis.leaseRelease(leaseKey(name), owner))),
    holder: (name) => Effect.map(run("holder", commands, (redis) => redis.get(leaseKey(name))), Option.fromNullable),
    heartbeat: (name, member, ttl) =>
      Effect.map(
        run("heartbeat", commands, (redis) => redis.heartbeat(groupKey(name), member, Duration.toMillis(ttl))),
        (members) => members.slice().sort()
      ),
    depart: (name, member) => Effect.asVoid(run("depart", commands, (redis) => redis.zrem(groupKey(name), member)))
  }
  return log
})

/**
 * The log as a Layer; the connections close with the Layer's scope.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<EventLog.EventLog, EventLog.EventLogError> =>
  Layer.scoped(EventLog.EventLog, make(options))

/**
 * {@link Options} from configuration, each name under `CALLSTREAM_`: `REDIS` (the URL, read as a secret) and
 * `REDIS_PREFIX`.
 *
 * @since 0.2.0
 * @category config
 */
export const config: Config.Config<Options> = Config.nested(
  Config.all({
    url: Config.redacted("REDIS"),
    prefix: Config.withDefault(Config.string("REDIS_PREFIX"), "callstream:")
  }),
  "CALLSTREAM"
)

/**
 * {@link layer} with options read from configuration; see {@link config}.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config<Options> = config
): Layer.Layer<EventLog.EventLog, EventLog.EventLogError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(options, layer))
