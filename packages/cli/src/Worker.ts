/**
 * `callstream worker`: records the meetings that receivers (`callstream serve --redis`) publish to Redis, into
 * exactly the folders `callstream serve` writes. The worker takes partitions of the log through leases (one worker
 * per partition at a time; a partition whose worker died is taken over once its lease expires), runs the session
 * recorder on their events, and acknowledges each event only once the recorder has put it on disk, so a worker
 * killed at any moment loses nothing: its successor continues the session's folder and skips what it holds already.
 * Several workers may share one `--out` folder; they share the partitions evenly, and one started later takes its
 * share from the others at once (a partition handed over has its meetings' files finished first; see
 * `WorkerSource.Options.rebalance`). With `--metrics-port`, a worker answers `GET /metrics` (its
 * partitions, the entries it read, the recorder's metrics, how busy its thread is) and `GET /healthz`.
 *
 * Ctrl-C (or SIGTERM) stops gracefully: every file is finished, what is on disk is acknowledged and the partitions
 * are released for another worker at once. A partition lost while it runs (its lease ran out, or another worker has
 * it) stops it at once instead, with exit code 3 (see {@link run}).
 *
 * @since 0.2.0
 */
import { EventSource } from "@callstream/core"
import * as EventLog from "@callstream/redis/EventLog"
import * as WorkerSource from "@callstream/redis/WorkerSource"
import { SessionRecorder } from "@callstream/sinks"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ConsoleText from "./internal/consoleText.js"
import * as HeapGrowth from "./internal/heapGrowth.js"
import * as Meetings from "./internal/meetings.js"
import * as MetricsEndpoint from "./internal/metricsEndpoint.js"
import { SettingsError } from "./internal/settingsError.js"
import * as Terminal from "./internal/terminal.js"
import * as ThreadLoad from "./internal/threadLoad.js"
import * as RedisSettings from "./RedisSettings.js"
import * as ServeSettings from "./ServeSettings.js"

/**
 * Checked settings of a worker.
 *
 * @since 0.2.0
 * @category models
 */
export interface WorkerSettings {
  readonly redis: RedisSettings.RedisSettings
  /** The absolute path of the folder that receives one folder per meeting. */
  readonly out: string
  /** Seconds a meeting lasts with no connection on any receiver. */
  readonly sessionTimeoutSeconds: number
  /** Seconds a dead worker's partitions wait before another worker takes them. */
  readonly leaseTtlSeconds: number
  /** Most partitions this worker records at once (`--max-partitions`); the partitions when not given. */
  readonly maxPartitions: number
  /** Where `GET /metrics` and `GET /healthz` are answered, if anywhere (`--metrics-port`, `--metrics-host`). */
  readonly metrics: Option.Option<{ readonly host: string; readonly port: number }>
}

/**
 * What the flags and environment gave, before checking.
 *
 * @since 0.2.0
 * @category models
 */
export interface RawWorkerSettings {
  readonly redis: Redacted.Redacted<string>
  readonly partitions: number
  readonly prefix: string
  readonly out: string
  readonly sessionTimeout: number
  readonly leaseTtl: number
  readonly maxPartitions: Option.Option<number>
  readonly metricsPort: Option.Option<number>
  readonly metricsHost: string
}

/**
 * Checks raw settings; the output folder is created if missing and must be writable.
 *
 * @since 0.2.0
 * @category validation
 */
export const resolve = (
  raw: RawWorkerSettings
): Effect.Effect<WorkerSettings, SettingsError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    if (!(raw.sessionTimeout > 0)) {
      return yield* new SettingsError({
        reason: "InvalidNumber",
        message: "--session-timeout must be a positive number of seconds"
      })
    }
    if (!(raw.leaseTtl >= 0.5)) {
      return yield* new SettingsError({
        reason: "InvalidNumber",
        message: "--lease-ttl must be a number of seconds of at least 0.5"
      })
    }
    if (Option.isSome(raw.metricsPort)) {
      const port = raw.metricsPort.value
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        return yield* new SettingsError({
          reason: "InvalidPort",
          message: `--metrics-port must be a whole number from 0 to 65535, got ${port}`
        })
      }
    }
    if (Option.isSome(raw.maxPartitions)) {
      const most = raw.maxPartitions.value
      if (!Number.isInteger(most) || most < 1) {
        return yield* new SettingsError({
          reason: "InvalidNumber",
          message: `--max-partitions must be a whole number of at least 1, got ${most}`
        })
      }
    }
    const redis = yield* RedisSettings.resolve({ url: raw.redis, partitions: raw.partitions, prefix: raw.prefix })
    const out = yield* ServeSettings.writableFolder(raw.out)
    return {
      redis,
      out,
      sessionTimeoutSeconds: raw.sessionTimeout,
      leaseTtlSeconds: raw.leaseTtl,
      maxPartitions: Math.min(Option.getOrElse(raw.maxPartitions, () => redis.partitions), redis.partitions),
      metrics: Option.map(raw.metricsPort, (port) => ({ host: raw.metricsHost, port }))
    }
  })

/**
 * The exit code of a worker that gave a partition up while it ran (see {@link run}).
 *
 * @since 0.2.0
 * @category constants
 */
export const LOST_PARTITION_EXIT_CODE = 3

/**
 * Records until interrupted (Ctrl-C, SIGTERM). An unreachable Redis is a `SettingsError` naming its host. A
 * partition given up while it runs (its lease not renewed within its time to live: Redis unreachable that long, or
 * the process stalled) stops the process at once with {@link LOST_PARTITION_EXIT_CODE}, writing nothing more: the
 * worker that takes the partition continues its meetings from their folders, as after a SIGKILL, and this one,
 * finishing them, would write over what that one wrote. Run workers under a supervisor that starts them again.
 *
 * @since 0.2.0
 * @category running
 */
export const run = (
  settings: WorkerSettings
): Effect.Effect<void, SettingsError | EventLog.EventLogError, FileSystem.FileSystem | Path.Path | Terminal.Terminal> =>
  Effect.gen(function*() {
    yield* HeapGrowth.limit
    const terminal = yield* Terminal.Terminal
    const path = yield* Path.Path
    const scope = yield* Scope.make()
    const started = Effect.gen(function*() {
      const log = yield* RedisSettings.connect(settings.redis)
      return yield* WorkerSource.make({
        partitions: settings.redis.partitions,
        sessionTimeout: Duration.seconds(settings.sessionTimeoutSeconds),
        leaseTtl: Duration.seconds(settings.leaseTtlSeconds),
        maxPartitions: settings.maxPartitions
      }).pipe(Effect.provideService(EventLog.EventLog, log))
    })
    const worker = yield* started.pipe(
      Scope.extend(scope),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
    // the recorder runs on this thread: how busy it is says how much more this worker can take
    const load = yield* Effect.forkDaemon(ThreadLoad.report(ThreadLoad.mainThreadBusy))
    const metrics = yield* Option.match(settings.metrics, {
      onNone: () => Effect.succeedNone,
      onSome: (address) =>
        MetricsEndpoint.serve(address, () => ({ worker: worker.id })).pipe(
          Effect.map((bound) => Option.some(MetricsEndpoint.metricsUrl(bound))),
          Scope.extend(scope),
          Effect.tapError(() => Effect.zipRight(Fiber.interrupt(load), Scope.close(scope, Exit.void)))
        )
    })
    const announced = ConsoleText.announce(new Meetings.Meetings(), ConsoleText.filesIn(path, settings.out))
    const events = worker.events.pipe(Stream.mapChunksEffect((items) => Effect.as(announced(items), items)))
    // the recorder's file calls stay asynchronous here, unlike on serve's recorder thread (`SyncFiles`): a disk that
    // stalled would otherwise hold this whole thread, lease renewals too, and past the lease's time to live another
    // worker would take the partitions while this one, once the disk came back, went on writing their sessions until
    // it noticed
    const recording = yield* SessionRecorder.run({ directory: settings.out, onFlushed: worker.commit }).pipe(
      Effect.provideService(EventSource.EventSource, EventSource.make(events)),
      Effect.forkDaemon
    )
    // a partition given up while running: another worker continues its sessions, and this one must not write them
    // again (its final flush would write over the successor's files), so it stops at once, as a SIGKILL would
    yield* Effect.forkDaemon(Effect.flatMap(worker.lost, (partition) =>
      Effect.logError(
        `Lost partition ${partition} while recording (its lease was not renewed in time or another worker holds it): ` +
          "stopping at once, writing nothing more; the worker that takes it continues its meetings"
      ).pipe(Effect.zipRight(Effect.sync(() => process.exit(LOST_PARTITION_EXIT_CODE))))))
    const partitions = yield* worker.partitions
    yield* terminal.announce(
      `callstream worker ${worker.id} is recording from Redis at ${settings.redis.where} into ${settings.out}\n` +
        `partitions: ${partitions.length} of ${settings.redis.partitions} now ` +
        `(a partition's lease lasts ${settings.leaseTtlSeconds} s); session timeout ${settings.sessionTimeoutSeconds} s\n` +
        Option.match(metrics, { onNone: () => "", onSome: (url) => `metrics: GET ${url}\n` }),
      `callstream worker ${worker.id} is recording`,
      {
        worker: worker.id,
        redis: settings.redis.where,
        out: settings.out,
        partitions: partitions.length,
        of: settings.redis.partitions,
        lease_ttl_s: settings.leaseTtlSeconds,
        session_timeout_s: settings.sessionTimeoutSeconds,
        ...Option.match(metrics, { onNone: () => ({}), onSome: (url) => ({ metrics: url }) })
      }
    )
    yield* Effect.never.pipe(
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          yield* terminal.announce(
            "shutting down: finishing every file and handing the partitions back...",
            "shutting down"
          )
          // the recorder first (its last flush is acknowledged), then the worker releases its leases (and the
          // metrics endpoint, if any, closes)
          yield* Fiber.interrupt(recording)
          yield* Fiber.interrupt(load)
          yield* Scope.close(scope, Exit.void)
          yield* terminal.announce(`stopped. Recordings are in ${settings.out}`, "stopped", { out: settings.out })
        })
      )
    )
  })
