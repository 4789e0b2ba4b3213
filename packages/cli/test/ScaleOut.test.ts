/**
 * Scale-out as a deployment runs it: a real `redis-server`, two receivers (`callstream serve --redis`) behind a
 * load balancer, two workers (`callstream worker`), all child processes. A generated meeting is replayed like
 * Recall sends it; its connection drops and comes back through the balancer on the other receiver; the worker that
 * holds the meeting is killed (SIGKILL) while it records, and the other takes over. The folder must equal what one
 * `callstream serve` records from the same delivered messages, and Redis must hold nothing of the meeting after it.
 */
import { SampleMeeting, SessionKey, type Tape } from "@callstream/core"
import * as EventLog from "@callstream/redis/EventLog"
import * as LogEntry from "@callstream/redis/LogEntry"
import * as RedisEventLog from "@callstream/redis/RedisEventLog"
import * as WorkerSource from "@callstream/redis/WorkerSource"
import { RecallSimulator } from "@callstream/server"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { Redis } from "ioredis"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { redisAvailable, RedisServer, Relay } from "../../redis/test/redisServer.js"
import { cli, endedSession, type Run, servedUrl, start, tmp, waitFor } from "./helpers.js"

const PARTITIONS = 4
const TOKEN = "scale-out-token"
const SPEED = 4
const meeting = SampleMeeting.generate({ seed: 3, duration: 24, separate: true, video: true })
const session = SessionKey.make(meeting.options.botId)
const partition = LogEntry.partitionOf(session, PARTITIONS)
// the connection drops a third of the way in
const DROP_AT = Math.floor(meeting.entries.length / 3)

/** Runs an Effect against the test's Redis, through the library the processes use. */
const inRedis = <A>(url: string, f: (log: EventLog.EventLog) => Effect.Effect<A, EventLog.EventLogError>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(RedisEventLog.make({ url: Redacted.make(url) }), f)))

const receiver = (url: string) =>
  start([
    "serve",
    "--port",
    "0",
    "--token",
    TOKEN,
    "--redis",
    url,
    "--partitions",
    String(PARTITIONS),
    "--session-timeout",
    "1",
    "--log-level",
    "debug"
  ])

const worker = async (
  url: string,
  out: string,
  extra: ReadonlyArray<string> = []
): Promise<{ readonly run: Run; readonly id: string }> => {
  const run = start([
    "worker",
    "--redis",
    url,
    "--out",
    out,
    "--partitions",
    String(PARTITIONS),
    "--session-timeout",
    "1",
    "--lease-ttl",
    "2",
    ...extra
  ])
  const ready = await waitFor(
    "the worker to start",
    () => /callstream worker (\S+) is recording/.exec(run.stdout) ?? undefined,
    60_000
  )
  return { run, id: ready[1]! }
}

const files = (dir: string, under: string): Array<string> =>
  fs.existsSync(path.join(dir, under))
    ? fs.readdirSync(path.join(dir, under), { recursive: true, encoding: "utf8" })
      .filter((f) => fs.statSync(path.join(dir, under, f)).isFile())
      .map((f) => path.join(under, f))
      .sort()
    : []

/** The raw messages of a tape, in order. */
const tapeMessages = (dir: string): Array<string> =>
  fs.readFileSync(path.join(dir, "events.jsonl"), "utf8").split("\n").filter((line) => line !== "").map((line) =>
    JSON.stringify(JSON.parse(line).message)
  )

const tapeLines = (dir: string): number => {
  const file = path.join(dir, "events.jsonl")
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").length - 1 : 0
}

/** The PCM of a WAV, after its header. */
const samples = (file: string): Buffer => {
  const bytes = fs.readFileSync(file)
  const dataAt = bytes.indexOf("data", 12, "ascii")
  return bytes.subarray(dataAt + 8)
}

/**
 * What must be equal in two session.json files: everything but wall-clock times, runs and how each connection
 * ended (Recall's drop, or the reference's orderly close).
 */
const comparable = (dir: string) => {
  const json = JSON.parse(fs.readFileSync(path.join(dir, "session.json"), "utf8"))
  return {
    session: json.session,
    endReason: json.endReason,
    gaps: json.gaps.map((gap: { from: number; to: number }) => [gap.from, gap.to]),
    drops: json.drops,
    counts: json.counts,
    decodeFailures: json.decodeFailures,
    errors: json.errors,
    audio: json.audio,
    video: json.video,
    connections: json.connections.length
  }
}

/**
 * Records the delivered messages with one `callstream serve` (a connection per part, each opened once the one
 * before closed) and checks that `dir` holds the same recording: the tape, the exports, session.json (but for what
 * `comparable` leaves out), every WAV's samples and every PNG. Returns the serve, still running.
 */
const sameAsServe = async (dir: string, parts: ReadonlyArray<ReadonlyArray<Tape.TapeEntry>>): Promise<Run> => {
  const delivered = parts.flat()
  const refOut = tmp()
  const single = start([
    "serve",
    "--port",
    "0",
    "--token",
    TOKEN,
    "--out",
    refOut,
    "--session-timeout",
    "1",
    "--log-level",
    "debug"
  ])
  const { url: singleUrl } = await servedUrl(single)
  const toSingle = { url: `${singleUrl}?token=${TOKEN}`, speed: Infinity }
  for (const [i, part] of parts.entries()) {
    if (i > 0) {
      await waitFor(
        "the connection before to close",
        () => single.stdout.split("Connection closed").length > i || undefined
      )
    }
    await Effect.runPromise(RecallSimulator.replay(part, toSingle))
  }
  const ref = path.join(refOut, path.basename(dir))
  await endedSession(ref)

  // every message exactly once, in order, on the tape
  assert.deepStrictEqual(tapeMessages(dir), delivered.map((entry) => JSON.stringify(entry.message)))
  assert.deepStrictEqual(tapeMessages(ref), tapeMessages(dir))
  // the same utterances, talk times, chat and exports
  for (
    const file of [
      "transcript.json",
      "transcript.txt",
      "transcript.srt",
      "transcript.vtt",
      "participants.json",
      "chat.json"
    ]
  ) {
    assert.strictEqual(fs.readFileSync(path.join(dir, file), "utf8"), fs.readFileSync(path.join(ref, file), "utf8"))
  }
  assert.deepStrictEqual(comparable(dir), comparable(ref))
  // WAV samples identical after the header, on every track
  const wavs = files(ref, "audio")
  assert.deepStrictEqual(files(dir, "audio"), wavs)
  assert.isAbove(wavs.length, 1)
  for (const wav of wavs) {
    assert.isTrue(samples(path.join(dir, wav)).equals(samples(path.join(ref, wav))), wav)
  }
  // one PNG per frame delivered, each the same
  const frames = delivered.filter((entry) => (entry.message as { event?: unknown }).event === "video_separate_png.data")
    .length
  const pngs = files(ref, "video")
  assert.strictEqual(pngs.length, frames)
  assert.deepStrictEqual(files(dir, "video"), pngs)
  for (const png of pngs) {
    assert.isTrue(fs.readFileSync(path.join(dir, png)).equals(fs.readFileSync(path.join(ref, png))), png)
  }
  return single
}

const withRedis = redisAvailable()

describe.skipIf(!withRedis)("callstream serve --redis and callstream worker", () => {
  it("a meeting that moves between receivers, recorded by a worker killed mid-session, equals one serve's recording", {
    timeout: 180_000
  }, async () => {
    const redis = await RedisServer.start()
    let balancer: Relay | undefined
    try {
      const out = tmp()
      // the receivers and the first worker start together; the second worker once the first holds every partition
      // (and takes half of them from it)
      const a = receiver(redis.url)
      const b = receiver(redis.url)
      const first = await worker(redis.url, out, ["--metrics-port", "0"])
      const second = await worker(redis.url, out)
      const [urlA, urlB] = await Promise.all([servedUrl(a), servedUrl(b)])
      assert.strictEqual(
        Option.getOrUndefined(await inRedis(redis.url, (log) => log.holder(WorkerSource.partitionLease(partition)))),
        first.id,
        "the first worker holds the meeting's partition"
      )
      // the receivers say where they publish
      for (const run of [a, b]) assert.include(run.stdout, `publishing to Redis at 127.0.0.1:${redis.port}`)
      // the first worker answers /metrics where it said: its partitions, and how busy its thread (the recorder's) is
      const metricsUrl = /metrics: GET (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(first.run.stdout)?.[1]
      assert.isDefined(metricsUrl, first.run.stdout)
      assert.isUndefined(/metrics: GET/.exec(second.run.stdout)?.[0], "no metrics port unless asked for")
      // the thread's load is set once a second; the first worker, alone at first, hands the two highest partitions
      // over to the second, which joined: each owns its share of two
      const shared = /^callstream_redis_partitions_owned 2$/m
      let metrics = ""
      for (let tries = 0; tries < 150; tries++) {
        if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 200))
        metrics = await (await fetch(metricsUrl!)).text()
        if (metrics.includes("callstream_main_thread_busy_ratio ") && shared.test(metrics)) break
      }
      assert.include(metrics, "callstream_main_thread_busy_ratio ")
      assert.match(metrics, shared)
      assert.match(metrics, /^callstream_redis_partitions_share 2$/m)
      assert.match(metrics, /^callstream_redis_workers_live 2$/m)
      assert.match(metrics, /^callstream_redis_partitions_handed_over_total 2$/m)
      const health = await fetch(metricsUrl!.replace(/\/metrics$/, "/healthz"))
      assert.strictEqual(health.status, 200)
      assert.deepStrictEqual(await health.json(), { status: "ok", worker: first.id })
      assert.strictEqual((await fetch(metricsUrl!.replace(/\/metrics$/, "/other"))).status, 404)

      balancer = await Relay.start(urlA.port)
      const dir = path.join(out, SampleMeeting.DEFAULTS.botId)
      const replaying = Effect.runPromise(
        RecallSimulator.replay(meeting.entries, {
          url: `ws://127.0.0.1:${balancer.port}/ws?token=${TOKEN}`,
          speed: SPEED,
          drops: [{ atIndex: DROP_AT }],
          retrySpacing: Duration.millis(100)
        })
      )
      // once the meeting is on the first receiver, the balancer sends new connections to the other: Recall's
      // reconnect after the drop lands there
      await waitFor("the first connection", () => a.stdout.includes("Connection opened") || undefined)
      balancer.route(urlB.port)

      // the worker that holds the meeting dies while it records the second receiver's part, with entries read and
      // not yet acknowledged (their events not yet on disk, or on disk and not yet acknowledged)
      await waitFor("most of the meeting recorded", () => tapeLines(dir) > meeting.entries.length * 0.55 || undefined)
      const probe = new Redis(redis.url)
      const pending = async () =>
        Number((await probe.xpending(`callstream:partition:${partition}`, "callstream") as [number])[0])
      const deadline = Date.now() + 20_000
      // frozen first, so it cannot acknowledge between the look and the kill
      for (;;) {
        first.run.child.kill("SIGSTOP")
        if ((await pending()) > 0 || Date.now() > deadline) break
        first.run.child.kill("SIGCONT")
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      first.run.child.kill("SIGKILL")
      probe.disconnect()
      const recordedBeforeKill = tapeLines(dir)
      const result = await replaying
      assert.isBelow(recordedBeforeKill, result.sent, "killed before the meeting was recorded")
      assert.strictEqual(result.connections, 2)

      const session = await endedSession(dir)
      assert.strictEqual(session.endReason, "timeout")
      assert.strictEqual(
        Option.getOrUndefined(await inRedis(redis.url, (log) => log.holder(WorkerSource.partitionLease(partition)))),
        second.id,
        "the second worker took the partition over"
      )
      assert.match(second.run.stdout, /Claimed \d+ pending entries of partition/, "and the first one's pending entries")
      assert.include(a.stdout, "Connection closed")
      assert.include(b.stdout, "Connection opened")

      // Redis holds nothing of the meeting once it ended: no entries, no saved state
      const emptyBy = Date.now() + 30_000
      let left: { entries: number; checkpoints: number } = { entries: -1, checkpoints: -1 }
      while (Date.now() < emptyBy) {
        left = await inRedis(redis.url, (log) =>
          Effect.gen(function*() {
            let entries = 0
            let checkpoints = 0
            for (let p = 0; p < PARTITIONS; p++) {
              entries += yield* log.size(p)
              checkpoints += (yield* log.checkpoints(p)).length
            }
            return { entries, checkpoints }
          }))
        if (left.entries === 0 && left.checkpoints === 0) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.deepStrictEqual(left, { entries: 0, checkpoints: 0 }, "no stream entries or session state left")

      // the reference: one `callstream serve` fed the delivered messages (those due while Recall reconnected are
      // lost) over two connections, the second opened once the first closed
      const before = meeting.entries.slice(0, DROP_AT)
      const after = meeting.entries.slice(DROP_AT + result.lost)
      assert.strictEqual(before.length + after.length, result.sent)
      const single = await sameAsServe(dir, [before, after])
      assert.strictEqual(comparable(dir).gaps.length, 1, "the drop is one gap")

      // the workers and receivers stop cleanly on Ctrl-C
      for (const run of [a, b, second.run, single]) run.child.kill("SIGINT")
      assert.deepStrictEqual(await Promise.all([a, b, second.run, single].map((run) => run.exited)), [0, 0, 0, 0])
      assert.include(second.run.stdout, `Recordings are in ${out}`)
      assert.notInclude(a.stdout + a.stderr + b.stdout + b.stderr, "redis://")
    } finally {
      await balancer?.cut()
      await redis.stop()
    }
  })
})

describe.skipIf(!withRedis)("callstream worker: sharing the partitions", () => {
  // a meeting on the highest partition: the first one a worker hands over when another joins
  const botId = Array.from({ length: 100 }, (_, i) => `handover-${i}`).find((id) =>
    LogEntry.partitionOf(SessionKey.make(id), PARTITIONS) === PARTITIONS - 1
  )!
  const handedMeeting = SampleMeeting.generate({ seed: 5, duration: 24, separate: true, video: true, botId })

  it("a worker that joins while a meeting records takes its partition over; the folder equals one serve's recording", {
    timeout: 180_000
  }, async () => {
    const redis = await RedisServer.start()
    try {
      const out = tmp()
      const a = receiver(redis.url)
      const first = await worker(redis.url, out)
      const { url } = await servedUrl(a)
      const dir = path.join(out, botId)
      const replaying = Effect.runPromise(
        RecallSimulator.replay(handedMeeting.entries, { url: `${url}?token=${TOKEN}`, speed: 2 })
      )
      await waitFor("the meeting's first seconds recorded", () => tapeLines(dir) > 20 || undefined)
      const second = await worker(redis.url, out)
      await waitFor(
        "the meeting's partition handed over",
        () => first.run.stdout.includes(`Handed partition ${PARTITIONS - 1} over`) || undefined
      )
      const recordedByFirst = tapeLines(dir)
      const result = await replaying
      assert.isBelow(recordedByFirst, result.sent, "handed over while the meeting went on")
      assert.strictEqual(result.lost, 0)
      const session = await endedSession(dir)
      assert.strictEqual(session.endReason, "timeout")
      assert.include(first.run.stdout, "meeting handed over to another worker")
      assert.match(second.run.stdout, new RegExp(`Took partition ${PARTITIONS - 1}\\b`))
      assert.strictEqual(
        Option.getOrUndefined(
          await inRedis(redis.url, (log) => log.holder(WorkerSource.partitionLease(PARTITIONS - 1)))
        ),
        second.id
      )
      // recorded by two workers one after the other, as one serve records it in one go
      const single = await sameAsServe(dir, [handedMeeting.entries])
      assert.deepStrictEqual(comparable(dir).gaps, [])

      for (const run of [a, first.run, second.run, single]) run.child.kill("SIGINT")
      assert.deepStrictEqual(await Promise.all([a, first.run, second.run, single].map((run) => run.exited)), [
        0,
        0,
        0,
        0
      ])
    } finally {
      await redis.stop()
    }
  })
})

describe("callstream serve --redis and worker: settings", () => {
  it("--max-partitions 1: the worker records one partition and leaves the others free", {
    timeout: 90_000
  }, async () => {
    const redis = await RedisServer.start()
    try {
      const { id, run } = await worker(redis.url, tmp(), ["--max-partitions", "1"])
      assert.match(run.stdout, /partitions: 1 of 4 now/)
      const holders = await inRedis(redis.url, (log) =>
        Effect.forEach(
          Array.from({ length: PARTITIONS }, (_, p) => p),
          (p) => Effect.map(log.holder(WorkerSource.partitionLease(p)), Option.getOrUndefined)
        ))
      assert.deepStrictEqual(holders, [id, undefined, undefined, undefined])
      run.child.kill("SIGINT")
      assert.strictEqual(await run.exited, 0)
    } finally {
      await redis.stop()
    }
  })

  it("a worker that loses a partition while it runs stops at once, with exit code 3 and a line saying which", {
    timeout: 90_000
  }, async () => {
    const redis = await RedisServer.start()
    try {
      // once it says it records, it holds every partition
      const { id, run } = await worker(redis.url, tmp())
      const lease = WorkerSource.partitionLease(1)
      assert.strictEqual(Option.getOrUndefined(await inRedis(redis.url, (log) => log.holder(lease))), id)
      // another worker holds the partition now (as after this one's lease ran out): its next renewal finds that
      await inRedis(
        redis.url,
        (log) => Effect.zipRight(log.release(lease, id), log.acquire(lease, "another-worker", Duration.seconds(60)))
      )
      const code = await Promise.race([
        run.exited,
        new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 30_000))
      ])
      assert.strictEqual(code, 3, run.stdout + run.stderr)
      assert.include(run.stdout + run.stderr, "Lost partition 1 while recording")
      // at once: not the graceful stop, which finishes every file first
      assert.notInclude(run.stdout + run.stderr, "shutting down")
    } finally {
      await redis.stop()
    }
  })

  it("an unreachable Redis is one line naming the host, never the password, and exit code 2", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo
        server.close(() => resolve(port))
      })
    })
    const url = `redis://user:hunter2@127.0.0.1:${port}`
    const runs = await Promise.all([
      cli(["serve", "--port", "0", "--redis", url]),
      cli(["worker", "--redis", url, "--out", tmp()]),
      cli(["worker", "--out", tmp()], { CALLSTREAM_REDIS: url })
    ])
    for (const run of runs) {
      assert.strictEqual(run.code, 2, run.stderr)
      assert.include(run.stderr, `cannot connect to Redis at 127.0.0.1:${port}`)
      assert.strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr)
      assert.notInclude(run.stdout + run.stderr, "hunter2")
      assert.notInclude(run.stdout, "listening")
    }
  })

  it.skipIf(!withRedis)(
    "a Redis that refuses the password: one line naming the host, never a password, exit code 2",
    async () => {
      const redis = await RedisServer.start(["--requirepass", "the-right-one"])
      try {
        const runs = await Promise.all([
          cli(["serve", "--port", "0", "--redis", `redis://:hunter2@127.0.0.1:${redis.port}`]),
          cli(["worker", "--out", tmp()], { CALLSTREAM_REDIS: `redis://:hunter2@127.0.0.1:${redis.port}` }),
          cli(["worker", "--redis", `redis://127.0.0.1:${redis.port}`, "--out", tmp()])
        ])
        for (const run of runs) {
          assert.strictEqual(run.code, 2, run.stderr)
          assert.include(run.stderr, `cannot connect to Redis at 127.0.0.1:${redis.port}`)
          assert.match(run.stderr, /WRONGPASS|NOAUTH/)
          assert.strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr)
          assert.notInclude(run.stdout + run.stderr, "hunter2")
        }
      } finally {
        await redis.stop()
      }
    }
  )

  it.skipIf(!withRedis)(
    "a metrics port in use: one line saying so, exit code 2, and the partitions let go",
    async () => {
      const redis = await RedisServer.start()
      const taken = net.createServer()
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
      try {
        const port = (taken.address() as net.AddressInfo).port
        const run = await cli(["worker", "--redis", redis.url, "--metrics-port", String(port), "--out", tmp()])
        assert.strictEqual(run.code, 2, run.stderr)
        assert.include(run.stderr, `--metrics-port ${port} on 127.0.0.1 is already in use`)
        assert.strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr)
        // the worker had taken its partitions before it tried the port: it let them go as it stopped
        const holders = await inRedis(redis.url, (log) =>
          Effect.forEach(
            Array.from({ length: 16 }, (_, partition) => partition),
            (partition) => log.holder(WorkerSource.partitionLease(partition))
          ))
        assert.isTrue(holders.every(Option.isNone), "no partition is held by a worker that stopped")
      } finally {
        await new Promise((resolve) => taken.close(resolve))
        await redis.stop()
      }
    }
  )

  it("a URL that is not a Redis URL, a bad number, a missing --redis: one line each, exit code 2", async () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["serve", "--port", "0", "--redis", "http://user:hunter2@host"], "--redis must be a URL like redis://"],
      [["worker", "--redis", "hunter2", "--out", tmp()], "--redis must be a URL like redis://"],
      [["worker", "--redis", "redis://127.0.0.1:1", "--partitions", "0", "--out", tmp()], "--partitions must be"],
      [["worker", "--redis", "redis://127.0.0.1:1", "--lease-ttl", "0", "--out", tmp()], "--lease-ttl must be"],
      [
        ["worker", "--redis", "redis://127.0.0.1:1", "--max-partitions", "0", "--out", tmp()],
        "--max-partitions must be a whole number of at least 1"
      ],
      [
        ["worker", "--redis", "redis://127.0.0.1:1", "--metrics-port", "70000", "--out", tmp()],
        "--metrics-port must be a whole number from 0 to 65535"
      ],
      [["worker", "--out", tmp()], "--redis"]
    ]
    await Promise.all(cases.map(async ([args, message]) => {
      const { code, stderr, stdout } = await cli(args)
      assert.strictEqual(code, 2, args.join(" "))
      assert.include(stderr, message)
      assert.notInclude(stdout + stderr, "hunter2")
    }))
  })

  it("worker --help lists its flags; serve --help has --redis", async () => {
    const [worker, serve] = await Promise.all([cli(["worker", "--help"]), cli(["serve", "--help"])])
    assert.strictEqual(worker.code, 0)
    for (
      const flag of [
        "--redis",
        "--out",
        "--partitions",
        "--session-timeout",
        "--lease-ttl",
        "--max-partitions",
        "--metrics-port"
      ]
    ) {
      assert.include(worker.stdout, flag)
    }
    assert.strictEqual(serve.code, 0)
    assert.include(serve.stdout, "--redis")
  })
})
