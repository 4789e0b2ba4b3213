/**
 * The bare baselines of the load benchmark: a plain `ws` server that `JSON.parse`s every frame and decodes the
 * base64 of every audio chunk, and counts. With `--record DIR` it is also a bare recorder: per session (bot id,
 * else recording id) the raw text is appended to `events.jsonl` and the decoded PCM to `mixed.pcm`, both
 * collected in memory and written with one call per file every 250 ms, and each PNG video frame is written as a
 * file of its own (`<participant id>/<ms>.png`), as callstream's folder layout has them.
 *
 *   npx tsx bench/load/bare-server.ts [--record DIR]
 *
 * It prints the URL it listens on; on SIGTERM it closes connections with 1001, writes what it holds, prints its
 * counts as one `LOAD_RESULT {...}` line and exits.
 */
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import type * as Net from "node:net"
import * as Path from "node:path"
import { WebSocketServer } from "ws"
import { RESULT_PREFIX, type ServerCounts } from "./protocol.js"

const FLUSH_MS = 250
const recordInto = process.argv.indexOf("--record") === -1 ? null : process.argv[process.argv.indexOf("--record") + 1]!

interface SessionFiles {
  readonly dir: string
  tape: Array<Buffer>
  pcm: Array<Buffer>
  /** PNG frames waiting: file name in the session's folder, bytes. */
  frames: Array<readonly [string, Buffer]>
  /** Frame folders made. */
  readonly folders: Set<string>
  tapeFile?: Fs.FileHandle
  pcmFile?: Fs.FileHandle
}

const NEWLINE = Buffer.from("\n")
const sessions = new Map<string, SessionFiles>()
let messages = 0
let decodeFailures = 0
let pcmBytes = 0

const folderOf = (key: string): string =>
  /^[A-Za-z0-9._-]{1,100}$/.test(key) && key !== "." && key !== ".."
    ? key
    : `~${createHash("sha256").update(key).digest("hex").slice(0, 10)}`

const record = (key: string, frame: Buffer, pcm: Buffer | null, png: readonly [string, Buffer] | null) => {
  let files = sessions.get(key)
  if (files === undefined) {
    files = { dir: Path.join(recordInto!, folderOf(key)), tape: [], pcm: [], frames: [], folders: new Set() }
    sessions.set(key, files)
  }
  files.tape.push(frame, NEWLINE)
  if (pcm !== null) files.pcm.push(pcm)
  if (png !== null) files.frames.push(png)
}

const onFrame = (frame: Buffer) => {
  let message: any
  try {
    message = JSON.parse(frame.toString("utf8"))
  } catch {
    decodeFailures++
    return
  }
  messages++
  const body = message?.data
  const buffer = body?.data?.buffer
  const pcm = typeof buffer === "string" && String(message.event).startsWith("audio_")
    ? Buffer.from(buffer, "base64")
    : null
  if (pcm !== null) pcmBytes += pcm.length
  if (recordInto === null) return
  const png = typeof buffer === "string" && message.event === "video_separate_png.data"
    ? [
      `${folderOf(String(body.data.participant?.id))}/${Math.round(Number(body.data.timestamp?.relative) * 1000)}.png`,
      Buffer.from(buffer, "base64")
    ] as const
    : null
  record(String(body?.bot?.id ?? body?.recording?.id ?? "unknown"), frame, pcm, png)
}

const writeAll = async (files: SessionFiles) => {
  if (files.tapeFile === undefined) {
    await Fs.mkdir(files.dir, { recursive: true })
    files.tapeFile = await Fs.open(Path.join(files.dir, "events.jsonl"), "a")
    files.pcmFile = await Fs.open(Path.join(files.dir, "mixed.pcm"), "a")
  }
  const tape = files.tape
  const pcm = files.pcm
  const frames = files.frames
  files.tape = []
  files.pcm = []
  files.frames = []
  for (const [name, bytes] of frames) {
    const folder = name.slice(0, name.indexOf("/"))
    if (!files.folders.has(folder)) {
      await Fs.mkdir(Path.join(files.dir, folder), { recursive: true })
      files.folders.add(folder)
    }
    await Fs.writeFile(Path.join(files.dir, name), bytes)
  }
  if (tape.length > 0) await files.tapeFile.write(Buffer.concat(tape))
  if (pcm.length > 0) await files.pcmFile!.write(Buffer.concat(pcm))
}

const flushOnce = () =>
  Promise.all([...sessions.values()].filter((f) => f.tape.length > 0).map(writeAll)).then(() => undefined)

// one flush at a time: a tick that finds the previous one still writing leaves its data for the next
let flushing: Promise<void> | null = null
const flush = (): Promise<void> =>
  flushing ?? (flushing = flushOnce().finally(() => {
    flushing = null
  }))

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 16 * 1024 * 1024 }, () => {
  const { port } = wss.address() as Net.AddressInfo
  console.log(`${recordInto === null ? "bare ws" : "bare recorder"} listening on ws://127.0.0.1:${port}/ws`)
})
wss.on("connection", (ws) => {
  ws.on("message", onFrame)
  ws.on("error", () => {})
})
const timer = recordInto === null ? undefined : setInterval(() => void flush(), FLUSH_MS)

process.once("SIGTERM", () => {
  clearInterval(timer)
  for (const client of wss.clients) client.close(1001, "shutting down")
  wss.close(async () => {
    if (recordInto !== null) {
      await flush()
      await flush()
      await Promise.all([...sessions.values()].flatMap((f) => [f.tapeFile?.close(), f.pcmFile?.close()]))
    }
    const counts: ServerCounts = { messages, decodeFailures, pcmBytes, sessions: sessions.size }
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(counts)}\n`, () => process.exit(0))
  })
})
