import { Fixtures, Printable, type SessionEvent } from "@callstream/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { WebSocket } from "ws"
import { collect, eventually, get, messages, openClient, startLoggedServer, startServer } from "./helpers.js"

const started = (items: ReadonlyArray<SessionEvent.SessionEvent>) =>
  items.filter((item): item is SessionEvent.SessionStarted => item._tag === "SessionStarted")

describe("frames that took the server down", () => {
  it.live("an unknown event with metadata 5, or a numeric bot id, as the first message of a session", () =>
    Effect.gen(function*() {
      const { server, shutdown } = yield* startServer()
      const out = yield* collect(server.events)
      const meeting = yield* openClient(server.address.url)
      meeting.send(JSON.stringify(Fixtures.transcript("before", { botId: "bystander" })))
      const ws = yield* openClient(server.address.url)
      ws.send("{\"event\":\"whatever\",\"data\":{\"bot\":{\"id\":\"x\",\"metadata\":5}}}")
      ws.send("{\"event\":\"whatever\",\"data\":{\"bot\":{\"id\":7},\"recording\":{\"id\":\"r2\"}}}")
      // a value nested too deeply for the decoder to describe, in a known event
      ws.send(
        `{"event":"transcript.data","data":{"data":{"words":[{"text":${"[".repeat(50_000)}${"]".repeat(50_000)}}]}}}`
      )
      ws.send(JSON.stringify(Fixtures.transcript("still here", { botId: "x" })))
      meeting.send(JSON.stringify(Fixtures.transcript("after", { botId: "bystander" })))
      yield* eventually(() => messages(out.items).length === 5)
      assert.deepStrictEqual(started(out.items).map((s) => [s.session, s.botId, s.recordingId, s.metadata]), [
        ["bystander", "bystander", Fixtures.RECORDING_ID, {}],
        ["x", "x", null, null],
        ["r2", null, "r2", null]
      ])
      const failed = out.items.filter((item): item is SessionEvent.DecodeFailed => item._tag === "DecodeFailed")
      assert.deepStrictEqual(failed.map((f) => [f.session, f.error.reason, f.error.event]), [
        ["r2", "InvalidShape", "transcript.data"]
      ])
      assert.strictEqual(ws.readyState, WebSocket.OPEN)
      assert.strictEqual(meeting.readyState, WebSocket.OPEN)
      assert.strictEqual((yield* get(server.address.port, "/healthz")).status, 200)
      ws.close()
      meeting.close()
      yield* shutdown
    }))
})

describe("logs", () => {
  it.live("wire-supplied text reaches the log only escaped and cut: keys, names, remote addresses, close reasons", () =>
    Effect.gen(function*() {
      const { lines, server, shutdown } = yield* startLoggedServer()
      const out = yield* collect(server.events)
      const forged = "bot\n[INFO] forged line\u001b[2J" + "x".repeat(500)
      const ws = yield* openClient(server.address.url)
      ws.send(JSON.stringify(Fixtures.transcript("hello", { botId: forged })))
      // a decode failure whose issue quotes the wire
      ws.send(JSON.stringify({ ...Fixtures.transcript("x"), data: { data: { words: "\u001b]0;title\u0007" } } }))
      yield* eventually(() => out.items.some((item) => item._tag === "DecodeFailed"))
      ws.close(4000, "bye\r\nforged: yes")
      yield* eventually(() => out.items.some((item) => item._tag === "ConnectionClosed"))
      yield* shutdown
      const texts = lines.flatMap((line) => [line.message, ...Object.values(line.annotations).map(String)])
      // eslint-disable-next-line no-control-regex
      const unsafe = texts.filter((text) => /[\u0000-\u001f\u007f-\u009f]/.test(text))
      assert.deepStrictEqual(unsafe, [])
      const sessionStarted = lines.find((line) => line.message === "Session started")!
      assert.strictEqual(sessionStarted.annotations.session, Printable.text(forged))
      const closedLine = lines.find((line) => line.message === "Connection closed")!
      assert.strictEqual(closedLine.annotations.reason, "bye\\r\\nforged: yes")
      const decodeLine = lines.find((line) => line.message === "Frame could not be decoded")!
      assert.include(String(decodeLine.annotations.issue), "\\u001b]0;title\\u0007")
    }))
})
