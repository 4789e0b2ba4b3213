import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as RedisSettings from "../src/RedisSettings.js"
import * as ServeSettings from "../src/ServeSettings.js"

const raw = (url: string, partitions = 16): RedisSettings.RawRedisSettings => ({
  url: Redacted.make(url),
  partitions,
  prefix: "callstream:"
})

describe("RedisSettings", () => {
  it("names a Redis URL by host and port only", () => {
    assert.strictEqual(RedisSettings.whereOf("redis://user:hunter2@cache.internal:6380/2"), "cache.internal:6380")
    assert.strictEqual(RedisSettings.whereOf("rediss://:hunter2@cache.internal"), "cache.internal:6379")
    for (const bad of ["http://cache.internal", "cache.internal:6379", "redis://", "", "hunter2"]) {
      assert.isUndefined(RedisSettings.whereOf(bad), bad)
    }
  })

  it.effect("a URL that is not one, or a partition count out of range, is a SettingsError that shows no secret", () =>
    Effect.gen(function*() {
      const url = yield* Effect.flip(RedisSettings.resolve(raw("http://user:hunter2@cache")))
      assert.strictEqual(url.reason, "InvalidRedisUrl")
      assert.notInclude(url.message, "hunter2")
      for (const partitions of [0, 1.5, 2000]) {
        const error = yield* Effect.flip(RedisSettings.resolve(raw("redis://cache", partitions)))
        assert.strictEqual(error.reason, "InvalidNumber")
      }
      const ok = yield* RedisSettings.resolve(raw(" redis://:hunter2@cache:7000 ", 4))
      assert.strictEqual(ok.where, "cache:7000")
      assert.strictEqual(Redacted.value(ok.url), "redis://:hunter2@cache:7000")
      assert.notInclude(String(ok.url), "hunter2", "the URL stays redacted")
    }))

  it.effect("serve with --redis publishes: its --out is neither created nor checked", () =>
    Effect.gen(function*() {
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "callstream-settings-")), "never-made")
      const serve: ServeSettings.RawSettings = {
        host: "127.0.0.1",
        port: 0,
        path: "/ws",
        token: Option.none(),
        signingSecret: Option.none(),
        allowUnauthenticated: false,
        out,
        sessionTimeout: 95,
        maxMessageBytes: 16 * 1024 * 1024
      }
      const receiver = yield* ServeSettings.resolve({ ...serve, redis: Option.some(raw("redis://127.0.0.1:6379", 8)) })
      assert.isFalse(fs.existsSync(out))
      assert.strictEqual(Option.getOrThrow(receiver.redis).partitions, 8)
      const recording = yield* ServeSettings.resolve(serve)
      assert.isTrue(fs.existsSync(out), "without --redis the folder is made")
      assert.isTrue(Option.isNone(recording.redis))
    }).pipe(Effect.provide(NodeContext.layer)))
})
