/**
 * How `serve` lets Recall in, end to end with `replay`: signed upgrades only, and a token it generates itself.
 */
import { SampleMeeting } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { cli, endedSession, servedUrl, start, tmp, upgradeStatus, waitFor } from "./helpers.js"

const meeting = SampleMeeting.generate({ seed: 5, duration: 8 })

const tapeFile = () => {
  const file = path.join(tmp(), "meeting.jsonl")
  fs.writeFileSync(file, SampleMeeting.toJsonl(meeting))
  return file
}

const occurrences = (text: string, part: string) => text.split(part).length - 1

describe("callstream serve --signing-secret", () => {
  it("records what replay --signing-secret sends, and refuses unsigned upgrades", async () => {
    const secret = `whsec_${Crypto.randomBytes(24).toString("base64")}`
    const out = tmp()
    const serve = start(["serve", "--port", "0", "--out", out, "--session-timeout", "1", "--signing-secret", secret])
    const { port, url } = await servedUrl(serve)
    assert.include(serve.stdout, "auth: signed upgrades")
    assert.notInclude(serve.stdout, "?token=", "signed upgrades need no token")
    assert.include(await upgradeStatus(port, ""), "401")

    const replay = await cli(["replay", tapeFile(), "--url", url, "--speed", "0", "--signing-secret", secret])
    assert.strictEqual(replay.code, 0, replay.stderr)
    assert.include(replay.stdout, `sent ${meeting.entries.length} messages over 1 connection(s)\n`)
    assert.notInclude(replay.stdout, "failed attempt")

    const session = await endedSession(path.join(out, meeting.options.botId))
    assert.strictEqual(session.counts.messages, meeting.entries.length)
    assert.strictEqual(session.connections.length, 1)
    serve.child.kill("SIGINT")
    assert.strictEqual(await serve.exited, 0)
    const printed = serve.stdout + serve.stderr + replay.stdout + replay.stderr
    assert.notInclude(printed, secret.slice("whsec_".length, "whsec_".length + 16), "the secret is never printed")
  })
})

describe("callstream serve with neither a token nor a signing secret", () => {
  it("generates a token, prints the URL with it once, and that URL works", async () => {
    const out = tmp()
    const serve = start(["serve", "--port", "0", "--out", out, "--session-timeout", "1"])
    const printed = await waitFor(
      "the URL with its token",
      () => /(ws:\/\/127\.0\.0\.1:(\d+)\/ws)\?token=([A-Za-z0-9_-]+)\n/.exec(serve.stdout) ?? undefined
    )
    const [withToken, , port, token] = [printed[0].trim(), printed[1], Number(printed[2]), printed[3]!]
    assert.isAtLeast(token.length, 32, "a token long enough to guess at")
    assert.include(serve.stdout, "auth: generated query token")
    assert.include(await upgradeStatus(port, ""), "401")
    assert.include(await upgradeStatus(port, `?token=${token.slice(0, -1)}`), "401")

    const replay = await cli(["replay", tapeFile(), "--url", withToken, "--speed", "0"])
    assert.strictEqual(replay.code, 0, replay.stderr)
    assert.include(replay.stdout, `sent ${meeting.entries.length} messages over 1 connection(s)\n`)
    assert.notInclude(replay.stdout + replay.stderr, token, "replay hides the token of the URL it prints")

    const session = await endedSession(path.join(out, meeting.options.botId))
    assert.strictEqual(session.counts.messages, meeting.entries.length)
    serve.child.kill("SIGINT")
    assert.strictEqual(await serve.exited, 0)
    // shown once, where the URL is given, and nowhere else (logs, the lines of the meeting, shutdown)
    assert.strictEqual(occurrences(serve.stdout + serve.stderr, token), 1)
  })
})
