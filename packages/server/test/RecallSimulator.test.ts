import { Fixtures, SampleMeeting, Tape } from "@callstream/core"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { RecallSimulator } from "../src/index.js"
import { collect, fast, messages, startServer } from "./helpers.js"

const entries = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    at: i / 100,
    message: Fixtures.transcript(`n ${i}`, { at: i / 100, duration: 0 })
  }))

const numberOf = (raw: string | undefined) => Number(/"text":"(\d+)"/.exec(raw!.split("\"n\"")[1] ?? "")?.[1])

describe("RecallSimulator", () => {
  it.live("retries a refused connection on its schedule, then fails", () =>
    Effect.gen(function*() {
      // a port that was free a moment ago: nothing listens there
      const port = yield* Effect.async<number>((resume) => {
        const probe = Net.createServer().listen(0, "127.0.0.1", () => {
          const { port } = probe.address() as Net.AddressInfo
          probe.close(() => resume(Effect.succeed(port)))
        })
      })
      const error = yield* Effect.flip(
        RecallSimulator.replay(entries(1), { url: `ws://127.0.0.1:${port}/ws`, retrySpacing: "10 millis", retries: 3 })
      )
      assert.strictEqual(error.reason, "ConnectFailed")
    }))

  it.live("a malformed URL fails at once, and the token it holds appears in no error", () =>
    Effect.gen(function*() {
      for (const url of ["ws://bad host/ws?token=s3cr3t-in-url", "ftp://127.0.0.1/ws?token=s3cr3t-in-url"]) {
        const exit = yield* Effect.exit(
          RecallSimulator.replay(entries(1), { url, retrySpacing: "1 second", retries: 30 })
        ).pipe(Effect.timeout("2 seconds"))
        assert.isTrue(Exit.isFailure(exit), url)
        const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
        assert.isTrue(Option.isSome(failure), `${url}: a typed failure, not a defect`)
        assert.strictEqual(Option.getOrThrow(failure).reason, "ConnectFailed")
        assert.notInclude(Cause.pretty(Exit.isFailure(exit) ? exit.cause : Cause.empty), "s3cr3t")
        assert.notInclude(Option.getOrThrow(failure).message, "s3cr3t")
      }
    }))

  it.live("keeps retrying through rejected upgrades until one succeeds", () =>
    Effect.gen(function*() {
      const secret = Redacted.make("whsec_" + Buffer.from("simulator test key, 32 bytes....").toString("base64"))
      const { server, shutdown } = yield* startServer({ signingSecret: secret })
      const out = yield* collect(server.events)
      // unsigned: every attempt is rejected
      const refused = yield* Effect.flip(
        RecallSimulator.replay(entries(1), { url: server.address.url, retrySpacing: "5 millis", retries: 2 })
      )
      assert.strictEqual(refused.reason, "ConnectFailed")
      // signed, legacy header names: accepted
      const result = yield* RecallSimulator.replay(entries(5), {
        url: server.address.url,
        ...fast,
        signingSecret: secret,
        legacyHeaders: true
      })
      assert.strictEqual(result.sent, 5)
      yield* shutdown
      yield* out.join
      assert.strictEqual(messages(out.items).length, 5)
    }))

  it.live("duplicates and reorders on demand", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer()
      const out = yield* collect(server.events)
      const result = yield* RecallSimulator.replay(entries(40), {
        url: server.address.url,
        ...fast,
        duplicateEvery: 10,
        reorderWindow: 5,
        seed: 7
      })
      assert.strictEqual(result.duplicated, 4)
      assert.strictEqual(result.sent, 44)
      yield* shutdown
      yield* out.join
      const order = messages(out.items).map((m) => numberOf(m.raw))
      assert.strictEqual(order.length, 44)
      assert.notDeepEqual(order, [...order].sort((a, b) => a - b))
      // reordering stays within windows of 5: every message still lands in its own window
      const unique = [...new Set(order)]
      assert.strictEqual(unique.length, 40)
      unique.forEach((n, i) => assert.strictEqual(Math.floor(n / 5), Math.floor(i / 5)))
    }))

  it.live("paces in meeting time and drops at a meeting time, losing what fell in the outage", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ sessionTimeout: "1 minute" })
      const out = yield* collect(server.events)
      // 5 s of meeting at speed 4: 1.25 s at least, which leaves a busy machine a second to reconnect; the outage
      // (a 100 ms retry spacing at speed 4, plus the reconnect) loses at least 0.4 s of meeting: 40 messages
      const total = 500
      const started = Date.now()
      const result = yield* RecallSimulator.replay(entries(total), {
        url: server.address.url,
        speed: 4,
        retrySpacing: "100 millis",
        drops: [{ atTime: 0.3 }]
      })
      assert.isAtLeast(Date.now() - started, 1_240)
      assert.isAtLeast(result.lost, 40)
      assert.strictEqual(result.sent + result.lost, total)
      assert.strictEqual(result.connections, 2)
      yield* shutdown
      yield* out.join
      assert.strictEqual(messages(out.items).length, result.sent)
      const gap = out.items.find((item) => item._tag === "Gap")
      assert.isDefined(gap)
      if (gap?._tag === "Gap") {
        // from the last message before the drop (at 0.29) to the first after the reconnect (0.7 at the earliest)
        assert.closeTo(gap.from, 0.29, 1e-9)
        assert.isAtLeast(gap.to, 0.7 - 1e-9)
      }
    }))

  const sharedTape = new URL("../../../../shared/fixtures/sample-meeting.jsonl", import.meta.url).pathname
  // a user's clone has no shared fixtures: the generated meetings of the other tests cover the same ground
  it.live.runIf(Fs.existsSync(sharedTape))(
    "replays the shared sample tape file when it is there",
    () =>
      Effect.gen(function*() {
        const path = sharedTape
        const { server, shutdown } = yield* startServer()
        const out = yield* collect(server.events)
        const result = yield* RecallSimulator.replayFile(path, {
          url: server.address.url,
          ...fast,
          separateConnections: true
        }).pipe(
          Effect.provide(NodeContext.layer)
        )
        yield* shutdown
        yield* out.join
        const lines = Fs.readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "").length
        assert.strictEqual(result.sent, lines)
        assert.strictEqual(messages(out.items).length, lines)
        // the TypeScript generator makes the same meeting
        const generated = SampleMeeting.generate(SampleMeeting.FIXTURE)
        assert.strictEqual(generated.entries.length, lines)
        assert.isTrue(messages(out.items).every((m) => m.event.event !== "unknown"))
        assert.strictEqual(Tape.parse(Fs.readFileSync(path, "utf8"))._tag, "Right")
      })
  )
})
