import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ServeSettings from "../src/ServeSettings.js"

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
        [{ maxMessageBytes: 10 }, "InvalidNumber", "--max-message-bytes"]
      ]
      for (const [overrides, reason, flag] of cases) {
        const error = yield* Effect.flip(ServeSettings.resolve(raw(overrides)))
        assert.strictEqual(error.reason, reason)
        assert.include(error.message, flag)
      }
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
