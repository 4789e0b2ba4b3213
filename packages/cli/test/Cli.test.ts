/**
 * The `callstream` command as a user runs it: a real child process, real sockets, real folders.
 */
import { SampleMeeting } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { cli, endedSession, servedUrl, sourceBin, start, tmp, upgradeStatus, wavSeconds } from "./helpers.js"

const countFiles = (dir: string, suffix: string): number =>
  fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(suffix)).length

describe("callstream demo", () => {
  it("records the generated meeting, with the dropped connection as a gap, and says where", async () => {
    const out = tmp()
    const { code, stderr, stdout } = await cli(["demo", "--out", out])
    assert.strictEqual(code, 0, stderr)
    assert.include(stdout, `Output folder: ${out}`)
    assert.match(stdout, /gap: no connection from [\d.]+ s to [\d.]+ s/)
    const sessions = fs.readdirSync(out)
    assert.deepStrictEqual(sessions, [SampleMeeting.DEFAULTS.botId])
    const dir = path.join(out, sessions[0]!)
    for (const file of ["session.json", "events.jsonl", "participants.json", "chat.json"]) {
      assert.isTrue(fs.existsSync(path.join(dir, file)), file)
    }
    for (const ext of ["json", "txt", "srt", "vtt"]) assert.isTrue(fs.existsSync(path.join(dir, `transcript.${ext}`)))
    // every track starts at meeting time 0: the mixed one covers the whole meeting, gap included
    assert.closeTo(wavSeconds(path.join(dir, "audio/mixed.wav")), 30, 0.11)
    for (const id of [100, 200, 300]) assert.isAbove(wavSeconds(path.join(dir, `audio/participant-${id}.wav`)), 5)
    const session = JSON.parse(fs.readFileSync(path.join(dir, "session.json"), "utf8"))
    assert.strictEqual(session.gaps.length, 1)
    assert.isAbove(session.gaps[0].to, session.gaps[0].from)
    assert.strictEqual(session.counts.decodeFailures, 0)
    const participants = JSON.parse(fs.readFileSync(path.join(dir, "participants.json"), "utf8"))
    assert.deepStrictEqual(Object.keys(participants).sort(), ["100", "200", "300"])
    assert.isAbove(countFiles(path.join(dir, "video"), ".png"), 40)
    assert.include(fs.readFileSync(path.join(dir, "transcript.txt"), "utf8"), "Ada Lovelace:")
  })
})

describe("callstream serve + replay", () => {
  it("records the sample meeting replayed into it, then shuts down on Ctrl-C", async () => {
    const out = tmp()
    const tape = path.join(tmp(), "meeting.jsonl")
    const meeting = SampleMeeting.generate(SampleMeeting.FIXTURE)
    fs.writeFileSync(tape, SampleMeeting.toJsonl(meeting))

    // this serve runs from the TypeScript sources, as `npm start` does (its recorder thread loads tsx too); every
    // other test runs the compiled command
    const serve = start(["serve", "--port", "0", "--out", out, "--session-timeout", "1"], {
      CALLSTREAM_TOKEN: "s3cret-token"
    }, sourceBin)
    const { url } = await servedUrl(serve)
    assert.include(serve.stdout, "?token=<your token>", "a token the user chose is never printed")
    assert.notInclude(serve.stdout + serve.stderr, "s3cret-token")

    const replay = await cli(["replay", tape, "--url", `${url}?token=s3cret-token`, "--speed", "0"])
    assert.strictEqual(replay.code, 0, replay.stderr)
    assert.include(replay.stdout, `sent ${meeting.entries.length} messages`)
    assert.notInclude(replay.stdout, "s3cret-token")

    const dir = path.join(out, SampleMeeting.DEFAULTS.botId)
    const session = await endedSession(dir)
    assert.strictEqual(session.counts.messages, meeting.entries.length)

    serve.child.kill("SIGINT")
    assert.strictEqual(await serve.exited, 0)
    assert.include(serve.stdout, `Recordings are in ${out}`)

    assert.closeTo(wavSeconds(path.join(dir, "audio/mixed.wav")), 30, 0.11)
    const participants = JSON.parse(fs.readFileSync(path.join(dir, "participants.json"), "utf8"))
    for (const [id, spoke] of Object.entries(talk(meeting))) {
      assert.closeTo(participants[id].talkTime, spoke, 0.1, `talk time of ${id}`)
    }
    assert.strictEqual(fs.readFileSync(path.join(dir, "events.jsonl"), "utf8").trim().split("\n").length, 611)

    const inspect = await cli(["inspect", dir])
    assert.strictEqual(inspect.code, 0, inspect.stderr)
    assert.include(inspect.stdout, "utterances 8")
    assert.include(inspect.stdout, "Grace Hopper")
  })

  it("with --recorder-threads 0, records on the main thread what a recorder thread records, and ends on SIGTERM", async () => {
    const out = tmp()
    const tape = path.join(tmp(), "meeting.jsonl")
    const meeting = SampleMeeting.generate(SampleMeeting.FIXTURE)
    fs.writeFileSync(tape, SampleMeeting.toJsonl(meeting))
    const serve = start(["serve", "--port", "0", "--out", out, "--session-timeout", "1", "--recorder-threads", "0"], {
      CALLSTREAM_TOKEN: "main-thread",
      NODE_OPTIONS: ""
    })
    const { port, url } = await servedUrl(serve)
    assert.include(serve.stdout, `recording into ${out} (on the main thread)`)
    assert.include(
      serve.stdout,
      "tip: recording on the main thread, start Node with NODE_OPTIONS=--max-semi-space-size=32"
    )

    const replay = await cli(["replay", tape, "--url", `${url}?token=main-thread`, "--speed", "0"])
    assert.strictEqual(replay.code, 0, replay.stderr)
    const dir = path.join(out, SampleMeeting.DEFAULTS.botId)
    const session = await endedSession(dir)
    assert.strictEqual(session.counts.messages, meeting.entries.length)
    assert.strictEqual(session.counts.decodeFailures, 0)
    // the recorder's metrics are this thread's own: no recorder thread reports a heap
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    assert.match(metrics, /^callstream_recorder_sessions_current 0$/m)
    assert.notInclude(metrics, "callstream_recorder_thread_heap_limit_bytes")

    serve.child.kill("SIGTERM")
    assert.strictEqual(await serve.exited, 0)
    assert.closeTo(wavSeconds(path.join(dir, "audio/mixed.wav")), 30, 0.11)
    assert.strictEqual(fs.readFileSync(path.join(dir, "events.jsonl"), "utf8").trim().split("\n").length, 611)
    const participants = JSON.parse(fs.readFileSync(path.join(dir, "participants.json"), "utf8"))
    for (const [id, spoke] of Object.entries(talk(meeting))) {
      assert.closeTo(participants[id].talkTime, spoke, 0.1, `talk time of ${id}`)
    }
    assert.include(fs.readFileSync(path.join(dir, "transcript.txt"), "utf8"), "Grace Hopper:")
  })

  it("rejects a connection with the wrong token (401) and keeps serving", async () => {
    const serve = start(["serve", "--port", "0", "--out", tmp(), "--token", "right"])
    const { port } = await servedUrl(serve)
    assert.include(await upgradeStatus(port, "?token=wrong"), "401")
    assert.include(await upgradeStatus(port, ""), "401")
    assert.include(await upgradeStatus(port, "?token=right"), "101")
    const health = await fetch(`http://127.0.0.1:${port}/healthz`)
    assert.strictEqual(health.status, 200)
    assert.strictEqual(((await health.json()) as { status: string }).status, "ok")
    serve.child.kill("SIGINT")
    assert.strictEqual(await serve.exited, 0)
  })
})

const talk = (meeting: SampleMeeting.SampleMeeting): Record<string, number> => {
  const total: Record<string, number> = {}
  for (const turn of meeting.turns) {
    total[turn.participantId] = (total[turn.participantId] ?? 0) + turn.end - turn.start
  }
  return total
}

describe("callstream's error messages", () => {
  it("names the flag that is wrong and exits 2", async () => {
    const file = path.join(tmp(), "a-file")
    fs.writeFileSync(file, "")
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["serve", "--port", "70000"], "--port must be a whole number from 0 to 65535"],
      [["serve", "--port", "0", "--signing-secret", "nope"], "--signing-secret must look like whsec_"],
      [["serve", "--port", "0", "--out", path.join(file, "sub")], "is not a writable folder"],
      [["serve", "--port", "0", "--path", "ws"], "--path must start with"],
      [["serve", "--port", "0", "--recorder-threads", "65"], "--recorder-threads must be a whole number from 0 to 64"],
      [
        ["serve", "--port", "0", "--recorder-heap-mb", "10"],
        "--recorder-heap-mb must be a whole number of at least 64"
      ],
      [
        ["serve", "--port", "0", "--recorder-threads", "0", "--recorder-heap-mb", "512"],
        "--recorder-heap-mb sets the heap of the recorder threads, and there are none with --recorder-threads 0"
      ]
    ]
    await Promise.all(cases.map(async ([args, message]) => {
      const { code, stderr } = await cli(args)
      assert.strictEqual(code, 2, args.join(" "))
      assert.include(stderr, message)
    }))
  })

  it("says so when the port is taken", async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const { code, stderr } = await cli(["serve", "--port", String(port), "--out", tmp()])
      assert.strictEqual(code, 2)
      assert.include(stderr, `--port ${port} on 127.0.0.1 is already in use`)
    } finally {
      blocker.close()
    }
  })

  it("rejects unknown flags and still has --help for every command", async () => {
    const bogus = await cli(["serve", "--bogus"])
    assert.strictEqual(bogus.code, 2)
    assert.include(bogus.stderr, "Received unknown argument: '--bogus'")
    assert.notInclude(bogus.stdout, "listening")
    const helps = await Promise.all(["serve", "replay", "demo", "inspect"].map((c) => cli([c, "--help"])))
    for (const help of helps) assert.strictEqual(help.code, 0)
    assert.include(helps[0]!.stdout, "--signing-secret")
    assert.include(helps[1]!.stdout, "--speed")
  })
})
