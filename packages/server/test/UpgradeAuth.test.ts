import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"
import { RecallServer, UpgradeAuth } from "../src/index.js"
import { get, rawExchange, sample, startServer, upgradeRequest, upgradeStatus } from "./helpers.js"

const secret = Redacted.make("whsec_" + Buffer.from("a test signing key of 32 bytes!!").toString("base64"))
const otherSecret = Redacted.make("whsec_" + Buffer.from("another key entirely, 32 bytes..").toString("base64"))
const now = () => Math.floor(Date.now() / 1000)

describe("UpgradeAuth", () => {
  it("signs as Standard Webhooks does (known vector)", () => {
    // HMAC-SHA256("msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.", base64-decoded key), from the scheme's own examples
    const key = Redacted.make("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    const body = "{\"test\": 2432232314}"
    const expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    // the vector covers a non-empty body: check the primitive on it, then the empty-body upgrade form
    const raw = Crypto.createHmac("sha256", Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64"))
      .update(`msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.${body}`).digest("base64")
    assert.strictEqual(`v1,${raw}`, expected)
    const upgrade = Crypto.createHmac("sha256", Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64"))
      .update("msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.").digest("base64")
    assert.strictEqual(UpgradeAuth.sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330), `v1,${upgrade}`)
  })

  it("refuses to run with no authentication unless told to", () => {
    const none = UpgradeAuth.make({})
    assert.isTrue(Either.isLeft(none) && none.left.reason === "NoAuthentication")
    const open = UpgradeAuth.make({ allowUnauthenticated: true })
    assert.isTrue(Either.isRight(open) && open.right.mode === "none")
    const bad = UpgradeAuth.make({ signingSecret: Redacted.make("whsec_!!!") })
    assert.isTrue(Either.isLeft(bad) && bad.left.reason === "InvalidSecret")
    assert.notInclude(Either.isLeft(bad) ? bad.left.message : "", "!!!")
  })

  it("remembers a signature id for as long as its timestamp passes, even a timestamp ahead of this clock", () => {
    const verifier = Either.getOrThrow(UpgradeAuth.make({ signingSecret: secret }))
    const t0 = 1_700_000_000_000
    // Recall's clock 4 minutes ahead of ours: within the 5-minute tolerance
    const request = {
      url: "/ws",
      headers: UpgradeAuth.signedHeaders(secret, { id: "msg_ahead", timestamp: t0 / 1000 + 240 })
    }
    assert.isTrue(Either.isRight(verifier.verify(request, t0)))
    // 5 min 1 s later the timestamp is still within the tolerance (it is only 61 s old): the replay must fail
    assert.deepStrictEqual(verifier.verify(request, t0 + 301_000), Either.left("replayed"))
    // and once the timestamp is stale, it is rejected as such
    assert.deepStrictEqual(verifier.verify(request, t0 + 541_000), Either.left("stale"))
  })

  it("forgets ids once stale, and the oldest first when full (counted, since a fresh one could be replayed)", () => {
    const verifier = Either.getOrThrow(UpgradeAuth.make({ signingSecret: secret, maxRememberedIds: 3 }))
    const t0 = 1_700_000_000_000
    const signed = (id: string, at: number) => ({
      url: "/ws",
      headers: UpgradeAuth.signedHeaders(secret, { id, timestamp: at / 1000 })
    })
    for (const [i, id] of ["a", "b", "c"].entries()) {
      assert.isTrue(Either.isRight(verifier.verify(signed(id, t0), t0 + i)))
    }
    assert.deepStrictEqual(verifier.memory(), { remembered: 3, forgottenEarly: 0 })
    // full: a fourth id pushes out the oldest while it is still fresh
    assert.isTrue(Either.isRight(verifier.verify(signed("d", t0), t0 + 10)))
    assert.deepStrictEqual(verifier.memory(), { remembered: 3, forgottenEarly: 1 })
    assert.isTrue(Either.isRight(verifier.verify(signed("a", t0), t0 + 11)), "the forgotten id passes again")
    assert.deepStrictEqual(verifier.verify(signed("d", t0), t0 + 12), Either.left("replayed"))
    // 6 minutes on, every id is stale: the next one clears them out instead of counting them
    const later = t0 + 360_000
    assert.isTrue(Either.isRight(verifier.verify(signed("e", later), later)))
    assert.deepStrictEqual(verifier.memory(), { remembered: 1, forgottenEarly: 2 })
  })

  it("remembers a kilobyte-long id by its digest, and still refuses its replay", () => {
    const verifier = Either.getOrThrow(UpgradeAuth.make({ signingSecret: secret }))
    const request = { url: "/ws", headers: UpgradeAuth.signedHeaders(secret, { id: "m".repeat(8_000) }) }
    const now = Number(request.headers["webhook-timestamp"]) * 1000
    assert.isTrue(Either.isRight(verifier.verify(request, now)))
    assert.deepStrictEqual(verifier.verify(request, now), Either.left("replayed"))
  })

  it.effect("a server with no authentication fails to start", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(RecallServer.make({ host: "127.0.0.1", port: 0 })))
      assert.strictEqual(error.reason, "InvalidOptions")
    }))
})

describe("upgrade authentication on real sockets", () => {
  it.live("query tokens: right and rotated pass; wrong and missing get 401; other paths 404", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({
        tokens: [Redacted.make("old-token"), Redacted.make("new-token")]
      })
      const base = server.address.url
      const before = (yield* get(server.address.port, "/metrics")).body
      assert.strictEqual(yield* upgradeStatus(`${base}?token=new-token`), 101)
      assert.strictEqual(yield* upgradeStatus(`${base}?token=old-token`), 101)
      assert.strictEqual(yield* upgradeStatus(`${base}?token=new-tokeN`), 401)
      assert.strictEqual(yield* upgradeStatus(`${base}?token=new-token-and-more`), 401)
      assert.strictEqual(yield* upgradeStatus(`${base}?token=`), 401)
      assert.strictEqual(yield* upgradeStatus(base), 401)
      assert.strictEqual(yield* upgradeStatus(base.replace("/ws", "/other") + "?token=new-token"), 404)
      const after = (yield* get(server.address.port, "/metrics")).body
      const delta = (reason: string) =>
        sample(after, "callstream_auth_failures_total", { reason }) -
        sample(before, "callstream_auth_failures_total", { reason })
      assert.strictEqual(delta("invalid"), 2)
      assert.strictEqual(delta("missing"), 2)
      assert.strictEqual(server.authMode, "token")
      yield* shutdown
    }))

  it.live("signed upgrades: right, legacy headers; wrong, missing, stale and replayed get 401", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ signingSecret: secret })
      const url = server.address.url
      assert.strictEqual(yield* upgradeStatus(url, UpgradeAuth.signedHeaders(secret)), 101)
      assert.strictEqual(yield* upgradeStatus(url, UpgradeAuth.signedHeaders(secret, { legacy: true })), 101)
      assert.strictEqual(yield* upgradeStatus(url), 401)
      assert.strictEqual(yield* upgradeStatus(url, UpgradeAuth.signedHeaders(otherSecret)), 401)
      // a signature for another id
      const forged = { ...UpgradeAuth.signedHeaders(secret, { id: "msg_a" }), "webhook-id": "msg_b" }
      assert.strictEqual(yield* upgradeStatus(url, forged), 401)
      // several signatures (key rotation on Recall's side): one valid is enough
      const rotated = UpgradeAuth.signedHeaders(secret, { id: "msg_rot" })
      const wrongSig = UpgradeAuth.sign(otherSecret, "msg_rot", rotated["webhook-timestamp"]!)
      const both = { ...rotated, "webhook-signature": `${wrongSig} ${rotated["webhook-signature"]}` }
      assert.strictEqual(yield* upgradeStatus(url, both), 101)
      // stale either way: 6 minutes old, 6 minutes ahead
      assert.strictEqual(yield* upgradeStatus(url, UpgradeAuth.signedHeaders(secret, { timestamp: now() - 360 })), 401)
      assert.strictEqual(yield* upgradeStatus(url, UpgradeAuth.signedHeaders(secret, { timestamp: now() + 360 })), 401)
      // within the tolerance
      assert.strictEqual(yield* upgradeStatus(url, UpgradeAuth.signedHeaders(secret, { timestamp: now() - 200 })), 101)
      // the same signed headers twice: the replay is rejected
      const once = UpgradeAuth.signedHeaders(secret, { id: "msg_once" })
      assert.strictEqual(yield* upgradeStatus(url, once), 101)
      assert.strictEqual(yield* upgradeStatus(url, once), 401)
      // a token is no substitute
      assert.strictEqual(yield* upgradeStatus(`${url}?token=anything`), 401)
      yield* shutdown
    }))

  it.live("both required: a token alone or a signature alone is not enough", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ tokens: [Redacted.make("t0k3n")], signingSecret: secret })
      const url = server.address.url
      assert.strictEqual(server.authMode, "both")
      assert.strictEqual(yield* upgradeStatus(`${url}?token=t0k3n`), 401)
      assert.strictEqual(yield* upgradeStatus(url, UpgradeAuth.signedHeaders(secret)), 401)
      assert.strictEqual(yield* upgradeStatus(`${url}?token=t0k3n`, UpgradeAuth.signedHeaders(secret)), 101)
      yield* shutdown
    }))

  it.live("a rejection says nothing about why and leaks no secret", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer({ tokens: [Redacted.make("t0k3n")] })
      const answer = yield* rawExchange(server.address.port, upgradeRequest("/ws?token=t0k3m"))
      assert.match(answer, /^HTTP\/1\.1 401 Unauthorized\r\n/)
      assert.isTrue(answer.endsWith("\r\n\r\nUnauthorized"))
      assert.notInclude(answer, "t0k3")
      assert.notInclude(answer.toLowerCase(), "upgrade: websocket")
      yield* shutdown
    }))
})
