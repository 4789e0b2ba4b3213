// Shared by the black-box tests of the `callstream` command: run it as a user does (a child process), wait for
// what it prints, and read back what it wrote.
import { assert } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, inject } from "vitest"

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
/** The `callstream` command, compiled once per run (see `bundle.setup.ts`). */
export const bin = inject("callstreamBin")

/** The `callstream` command of the checkout: its TypeScript sources, through tsx (as `npm start` runs them). */
export const sourceBin = path.join(root, "packages/cli/bin/callstream.js")

export interface Run {
  readonly child: ChildProcess.ChildProcess
  stdout: string
  stderr: string
  readonly exited: Promise<number | null>
}

const running = new Set<ChildProcess.ChildProcess>()
afterEach(() => {
  for (const child of running) child.kill("SIGKILL")
  running.clear()
})

/**
 * Starts `callstream ARGS` with only the given `CALLSTREAM_*` settings (none inherited from this process); it is
 * killed after the test if it is still running. Its output is a pipe, so the console's default would be logfmt: these
 * tests read what a person reads, the pretty format (without colours or a status line, which need a terminal),
 * unless `env` sets `CALLSTREAM_LOG_FORMAT` itself (to `""` to leave it unset, for the console's own default).
 * `command` is the compiled command unless a test asks for the sources ({@link sourceBin}).
 */
export const start = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  command: string = bin
): Run => {
  const inherited: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("CALLSTREAM_")) inherited[key] = value
  }
  const settings: Record<string, string> = { CALLSTREAM_LOG_FORMAT: "pretty", ...env }
  if (settings.CALLSTREAM_LOG_FORMAT === "") delete settings.CALLSTREAM_LOG_FORMAT
  const child = ChildProcess.spawn(process.execPath, [command, ...args], {
    cwd: root,
    env: { ...inherited, ...settings, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  running.add(child)
  const run: Run = {
    child,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code)))
  }
  child.stdout!.on("data", (d) => (run.stdout += d))
  child.stderr!.on("data", (d) => (run.stderr += d))
  return run
}

/** Runs `callstream ARGS` to its end. */
export const cli = async (args: ReadonlyArray<string>, env?: Record<string, string>) => {
  const run = start(args, env)
  const code = await run.exited
  return { code, stdout: run.stdout, stderr: run.stderr }
}

/** Polls `check` until it gives a value; the bound is wide, as the machine may be busy. */
export const waitFor = async <A>(what: string, check: () => A | undefined, timeoutMs = 30_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "callstream-cli-"))

/** The ws URL `serve` printed, and its port. */
export const servedUrl = async (serve: Run): Promise<{ readonly url: string; readonly port: number }> => {
  // the whole line, not a prefix of it that arrived first: what follows the URL (the token hint) is then there too;
  // and the header's line, not the server's "Listening on" log line, which comes first and has no token hint
  const match = await waitFor(
    "the ws URL",
    () => /^(?!.*Listening on).*?(ws:\/\/127\.0\.0\.1:(\d+)\/ws)[^\n]*\n/m.exec(serve.stdout) ?? undefined
  )
  return { url: match[1]!, port: Number(match[2]) }
}

/** The status line of the answer to a websocket upgrade of `/ws<query>`, sent by hand. */
export const upgradeStatus = (port: number, query: string): Promise<string> =>
  new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(
        `GET /ws${query} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
      )
    })
    socket.once("data", (d) => {
      resolve(d.toString().split("\r\n")[0]!)
      socket.destroy()
    })
    socket.once("error", reject)
  })

/** The session.json of a session folder once its session has ended (the server's session timeout passed). */
export const endedSession = (dir: string) =>
  waitFor("the session to end", () => {
    const file = path.join(dir, "session.json")
    if (!fs.existsSync(file)) return undefined
    const json = JSON.parse(fs.readFileSync(file, "utf8"))
    return json.endReason === "timeout" ? json : undefined
  })

/** Seconds of audio in a WAV file, from its header's data size. */
export const wavSeconds = (file: string): number => {
  const bytes = fs.readFileSync(file)
  assert.strictEqual(bytes.toString("ascii", 0, 4), "RIFF")
  assert.strictEqual(bytes.toString("ascii", 8, 12), "WAVE")
  assert.strictEqual(bytes.readUInt16LE(22), 1, "mono")
  assert.strictEqual(bytes.readUInt32LE(24), 16000, "16 kHz")
  assert.strictEqual(bytes.readUInt16LE(34), 16, "16-bit")
  const dataAt = bytes.indexOf("data", 12, "ascii")
  return bytes.readUInt32LE(dataAt + 4) / 32000
}

/**
 * The lines a terminal shows after `raw` was written to it, from an empty screen: `\r` returns to the start of the
 * line, `\n` moves to the next, `ESC[2K` erases the line, colours (`ESC[...m`) are not text; lines never wrap.
 */
export const screenOf = (raw: string): Array<string> => {
  const lines: Array<string> = [""]
  let row = 0
  let col = 0
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!
    if (c === "\r") {
      col = 0
    } else if (c === "\n") {
      row++
      col = 0
      if (lines.length <= row) lines.push("")
    } else if (c === "\x1b") {
      // eslint-disable-next-line no-control-regex
      const sequence = /^\x1b\[([0-9;]*)([A-Za-z])/.exec(raw.slice(i))
      if (sequence === null) continue
      if (sequence[2] === "K" && sequence[1] === "2") lines[row] = ""
      i += sequence[0].length - 1
    } else {
      const line = lines[row]!.padEnd(col)
      lines[row] = line.slice(0, col) + c + line.slice(col + 1)
      col++
    }
  }
  return lines
}

/** A logfmt line read back: every `key=value` pair, quoted values unescaped; a line that is not all pairs throws. */
export const parseLogfmt = (line: string): Record<string, string> => {
  const fields: Record<string, string> = {}
  const pair = /([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?: |$)/y
  let at = 0
  while (at < line.length) {
    pair.lastIndex = at
    const match = pair.exec(line)
    if (match === null) throw new Error(`not logfmt at ${at}: ${line}`)
    fields[match[1]!] = match[2]!.startsWith("\"") ? JSON.parse(match[2]!) : match[2]!
    at = pair.lastIndex
  }
  return fields
}

/**
 * What a meeting's closing line must say, read from its raw messages: distinct participant ids in participant events,
 * final utterances, seconds of mixed audio.
 */
export const meetingFigures = (entries: ReadonlyArray<{ readonly message: unknown }>) => {
  const participants = new Set<number>()
  let utterances = 0
  let audioSeconds = 0
  for (const { message } of entries) {
    const m = message as { event: string; data: { data: { participant?: { id: number }; buffer?: string } } }
    if (m.event.startsWith("participant_events.")) participants.add(m.data.data.participant!.id)
    if (m.event === "transcript.data") utterances++
    if (m.event === "audio_mixed_raw.data") audioSeconds += Buffer.from(m.data.data.buffer!, "base64").length / 32000
  }
  return { participants: participants.size, utterances, audioSeconds }
}
