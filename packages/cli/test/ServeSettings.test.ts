import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Serve from "../src/Serve.js"
import * as ServeSettings from "../src/ServeSettings.js"
import { cli, servedUrl, start, upgradeStatus, waitFor } from "./helpers.js"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "callstream-settings-"))

const raw = (overrides: Partial<ServeSettings.RawSettings> = {}): ServeSettings.RawSettings => ({
  host: "127.0.0.1",
  port: 8787,
  path: "/ws",
  token: Option.none(),
  signingSecret: Option.none(),
  allowUnauthenticated: false,
  out: tmp(),
  sessionTimeout: 95,
  maxMessageBytes: 16 * 1024 * 1024,
  ...overrides
})

const secret = `whsec_${Buffer.alloc(24, 9).toString("base64")}`

describe("ServeSettings.resolve", () => {
  it.effect("neither token nor signing secret: a token is generated", () =>
    Effect.gen(function*() {
      const settings = yield* ServeSettings.resolve(raw())
      assert.strictEqual(settings.authMode, "generated-token")
      assert.strictEqual(settings.tokens.length, 1)
      assert.isAtLeast(Redacted.value(settings.tokens[0]!).length, 40)
      const again = yield* ServeSettings.resolve(raw())
      assert.notStrictEqual(Redacted.value(again.tokens[0]!), Redacted.value(settings.tokens[0]!))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("token alone, signing secret alone, both, and explicitly none", () =>
    Effect.gen(function*() {
      const token = Option.some(Redacted.make("old, new"))
      const signed = Option.some(Redacted.make(secret))
      const a = yield* ServeSettings.resolve(raw({ token }))
      assert.strictEqual(a.authMode, "token")
      assert.deepStrictEqual(a.tokens.map(Redacted.value), ["old", "new"])
      assert.strictEqual((yield* ServeSettings.resolve(raw({ signingSecret: signed }))).authMode, "signed")
      assert.strictEqual((yield* ServeSettings.resolve(raw({ token, signingSecret: signed }))).authMode, "both")
      const none = yield* ServeSettings.resolve(raw({ allowUnauthenticated: true }))
      assert.strictEqual(none.authMode, "none")
      assert.strictEqual(none.tokens.length, 0)
      // a token given with --allow-unauthenticated is still required
      assert.strictEqual((yield* ServeSettings.resolve(raw({ token, allowUnauthenticated: true }))).authMode, "token")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("rejects what cannot work, with a message naming the flag", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Partial<ServeSettings.RawSettings>, string, string]> = [
        [{ port: 70000 }, "InvalidPort", "--port"],
        [{ port: -1 }, "InvalidPort", "--port"],
        [{ path: "ws" }, "InvalidPath", "--path"],
        [{ signingSecret: Option.some(Redacted.make("not-a-secret")) }, "InvalidSecret", "--signing-secret"],
        [{ signingSecret: Option.some(Redacted.make("whsec_abc")) }, "InvalidSecret", "--signing-secret"],
        [{ token: Option.some(Redacted.make(" , ")) }, "InvalidSecret", "--token"],
        [{ sessionTimeout: 0 }, "InvalidNumber", "--session-timeout"],
        [{ maxMessageBytes: 10 }, "InvalidNumber", "--max-message-bytes"],
        [{ recorderThreads: 0, recorderHeapMb: 512 }, "ConflictingFlags", "there are none with --recorder-threads 0"],
        [
          {
            recorderHeapMb: 512,
            redis: Option.some({ url: Redacted.make("redis://127.0.0.1:1"), partitions: 8, prefix: "callstream" })
          },
          "ConflictingFlags",
          "there are none with --redis"
        ]
      ]
      for (const [overrides, reason, flag] of cases) {
        const error = yield* Effect.flip(ServeSettings.resolve(raw(overrides)))
        assert.strictEqual(error.reason, reason)
        assert.include(error.message, flag)
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("the recorder threads' heap limit: the default unless given, and given with a recorder thread it is kept", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* ServeSettings.resolve(raw())).recorderHeapMb, 1024)
      // left out, it is no conflict with recording on the main thread
      const mainThread = yield* ServeSettings.resolve(raw({ recorderThreads: 0 }))
      assert.strictEqual(mainThread.recorderThreads, 0)
      const given = yield* ServeSettings.resolve(raw({ recorderThreads: 2, recorderHeapMb: 512 }))
      assert.strictEqual(given.recorderHeapMb, 512)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("an output folder that cannot be written is refused; a missing one is created", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = path.join(dir, "a-file")
      fs.writeFileSync(file, "")
      const error = yield* Effect.flip(ServeSettings.resolve(raw({ out: path.join(file, "sub") })))
      assert.strictEqual(error.reason, "OutputNotWritable")
      assert.include(error.message, "--out")
      const fresh = path.join(dir, "new", "deeper")
      const settings = yield* ServeSettings.resolve(raw({ out: fresh }))
      assert.strictEqual(settings.out, fresh)
      assert.isTrue(fs.statSync(fresh).isDirectory())
      assert.deepStrictEqual(fs.readdirSync(fresh), [])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("the secret never shows in the settings' printed form", () =>
    Effect.gen(function*() {
      const settings = yield* ServeSettings.resolve(
        raw({ token: Option.some(Redacted.make("hunter2-token")), signingSecret: Option.some(Redacted.make(secret)) })
      )
      const printed = `${JSON.stringify(settings)} ${String(settings.tokens)} ${String(settings.signingSecret)}`
      assert.notInclude(printed, "hunter2-token")
      assert.notInclude(printed, secret)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("the server's limits", () => {
  it.effect("are passed on as given, each a whole number of at least 1 named by its flag", () =>
    Effect.gen(function*() {
      const settings = yield* ServeSettings.resolve(
        raw({ limits: { maxConnections: Option.some(1), memoryBudget: Option.some(64 * 1024 * 1024) } })
      )
      assert.deepStrictEqual(settings.limits, { maxConnections: 1, memoryBudget: 64 * 1024 * 1024 })
      const options = Serve.serverOptions(settings)
      assert.strictEqual(options.maxConnections, 1)
      assert.strictEqual(options.memoryBudget, 64 * 1024 * 1024)
      assert.isUndefined(options.maxSessions, "a limit left out keeps the server's default")
      for (const [name, value] of [["maxSessions", 0], ["bufferBytes", -5], ["bufferSize", 1.5]] as const) {
        const error = yield* Effect.flip(ServeSettings.resolve(raw({ limits: { [name]: Option.some(value) } })))
        assert.strictEqual(error.reason, "InvalidNumber")
        assert.include(error.message, `--${ServeSettings.flagOf(name)} must be a whole number of at least 1`)
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it("are named as RecallServer.layerConfig reads them", () => {
    assert.deepStrictEqual(
      ServeSettings.limitNames.map((name) => [ServeSettings.flagOf(name), ServeSettings.variableOf(name)]),
      [
        ["max-connections", "CALLSTREAM_MAX_CONNECTIONS"],
        ["max-connections-per-address", "CALLSTREAM_MAX_CONNECTIONS_PER_ADDRESS"],
        ["max-sessions", "CALLSTREAM_MAX_SESSIONS"],
        ["max-sessions-per-connection", "CALLSTREAM_MAX_SESSIONS_PER_CONNECTION"],
        ["buffer-size", "CALLSTREAM_BUFFER_SIZE"],
        ["buffer-bytes", "CALLSTREAM_BUFFER_BYTES"],
        ["memory-budget", "CALLSTREAM_MEMORY_BUDGET"]
      ]
    )
  })

  it("serve --max-connections 1 keeps one connection open and answers a second upgrade 503", async () => {
    const serve = start(["serve", "--port", "0", "--allow-unauthenticated", "--out", tmp(), "--max-connections", "1"])
    const { port } = await servedUrl(serve)
    await waitFor("the header's limits", () => serve.stdout.includes("limits: --max-connections 1") || undefined)
    const first = net.connect(port, "127.0.0.1")
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        first.once("connect", () =>
          first.write(
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
          ))
        first.once("data", (d) => resolve(d.toString().split("\r\n")[0]!))
        first.once("error", reject)
      })
      assert.include(answer, "101")
      assert.include(await upgradeStatus(port, ""), "503")
    } finally {
      first.destroy()
    }
    serve.child.kill("SIGINT")
    assert.strictEqual(await serve.exited, 0)
  }, 180_000)

  it("a limit from the environment is checked as a flag is, so is --otel; --help lists them", async () => {
    const bad = await cli(["serve", "--port", "0", "--out", tmp()], { CALLSTREAM_MAX_SESSIONS: "0" })
    assert.strictEqual(bad.code, 2)
    assert.include(bad.stderr, "--max-sessions must be a whole number of at least 1, got 0")
    assert.notInclude(bad.stdout, "listening")
    const otel = await cli(["serve", "--port", "0", "--out", tmp(), "--otel", "ftp://collector:4318"])
    assert.strictEqual(otel.code, 2)
    assert.include(otel.stderr, "--otel (or OTEL_EXPORTER_OTLP_ENDPOINT) must be an http:// or https:// URL")
    const help = await cli(["serve", "--help"])
    for (const name of ServeSettings.limitNames) {
      assert.include(help.stdout, `--${ServeSettings.flagOf(name)}`)
      assert.include(help.stdout, ServeSettings.variableOf(name))
    }
    for (
      const flag of ["--log-level", "--log-format", "--otel", "CALLSTREAM_LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT"]
    ) {
      assert.include(help.stdout, flag)
    }
  }, 180_000)
})
