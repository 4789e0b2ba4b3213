/**
 * Reading what a recording server wrote, without depending on how it names things: session folders are found by
 * listing the output directory, a folder is tied to its bot by what it holds (its name containing the bot id, its
 * `session.json`, or the first message of its tape), and the mixed audio is whichever known file exists.
 */
import { Buffer } from "node:buffer"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"

/** Where a session folder may keep its mixed audio, and the bytes of header before the PCM. */
const AUDIO_FILES: ReadonlyArray<readonly [string, number]> = [
  ["audio/mixed.wav", 44],
  ["mixed.wav", 44],
  ["mixed.pcm", 0],
  ["audio/mixed.pcm", 0]
]
const TAPES = ["events.jsonl", "tape.jsonl"]
const BYTES_PER_SECOND = 32_000
const BOT_ID = /"bot"\s*:\s*\{\s*"id"\s*:\s*"([^"]+)"/

const readJson = async (file: string): Promise<any> => {
  try {
    return JSON.parse(await Fs.readFile(file, "utf8"))
  } catch {
    return undefined
  }
}

const firstBytes = async (file: string, length: number): Promise<string> => {
  let handle: Fs.FileHandle | undefined
  try {
    handle = await Fs.open(file, "r")
    const buffer = Buffer.alloc(length)
    const { bytesRead } = await handle.read(buffer, 0, length, 0)
    return buffer.toString("utf8", 0, bytesRead)
  } catch {
    return ""
  } finally {
    await handle?.close()
  }
}

const subfolders = async (dir: string): Promise<ReadonlyArray<string>> => {
  try {
    const entries = await Fs.readdir(dir, { withFileTypes: true })
    return entries.filter((e) => e.isDirectory()).map((e) => Path.join(dir, e.name))
  } catch {
    return []
  }
}

/**
 * Session folders under `root`: directories holding a `session.json`, a tape or a mixed-audio file, found up to
 * three levels down (a recorder may group sessions, by day for instance). Folders in `known` are taken as
 * sessions without reading them again.
 */
export const sessionFolders = async (
  root: string,
  depth = 3,
  known: { has(folder: string): boolean } = new Set()
): Promise<ReadonlyArray<string>> => {
  const found: Array<string> = []
  const visit = async (dir: string, level: number): Promise<void> => {
    if (known.has(dir)) {
      found.push(dir)
      return
    }
    const names = new Set(await Fs.readdir(dir).catch(() => []))
    const isSession = ["session.json", ...TAPES, "mixed.wav", "mixed.pcm"].some((file) => names.has(file))
    if (isSession && dir !== root) {
      found.push(dir)
      return
    }
    if (level < depth) await Promise.all((await subfolders(dir)).map((sub) => visit(sub, level + 1)))
  }
  await visit(root, 0)
  return found
}

/** The bot a session folder belongs to, or null when nothing in it says yet. */
const botOf = async (folder: string, knownBots: ReadonlySet<string>): Promise<string | null> => {
  const name = Path.basename(folder)
  for (const bot of knownBots) if (name.includes(bot)) return bot
  const summary = await readJson(Path.join(folder, "session.json"))
  if (typeof summary?.botId === "string") return summary.botId
  for (const tape of TAPES) {
    const match = BOT_ID.exec(await firstBytes(Path.join(folder, tape), 8192))
    if (match !== null) return match[1]!
  }
  return null
}

/**
 * Seconds of mixed audio on disk per bot, sampled while a server records. Folders are tied to bots once and
 * remembered; each sample lists the output directory again and reads only file sizes.
 */
export class AudioOnDisk {
  private readonly bots = new Map<string, string>()
  private readonly audioFile = new Map<string, readonly [string, number]>()

  constructor(private readonly root: string) {}

  async seconds(knownBots: ReadonlySet<string>): Promise<Map<string, number>> {
    const result = new Map<string, number>()
    const folders = await sessionFolders(this.root, 2, this.bots)
    await Promise.all(folders.map(async (folder) => {
      let bot = this.bots.get(folder)
      if (bot === undefined) {
        const found = await botOf(folder, knownBots)
        if (found === null) return
        this.bots.set(folder, bot = found)
      }
      const known = this.audioFile.get(folder)
      for (const [file, header] of known === undefined ? AUDIO_FILES : [known]) {
        const size = await Fs.stat(Path.join(folder, file)).then((s) => s.size, () => null)
        if (size === null) continue
        this.audioFile.set(folder, [file, header])
        result.set(bot, (result.get(bot) ?? 0) + Math.max(0, size - header) / BYTES_PER_SECOND)
        break
      }
    }))
    return result
  }
}

/** What one `session.json` says about its messages. */
export interface SessionCounts {
  readonly folder: string
  readonly botId: string | null
  readonly messages: number
  readonly decodeFailures: number
  readonly droppedMedia: number
}

const sum = (record: unknown): number =>
  typeof record === "object" && record !== null
    ? Object.values(record).reduce((n: number, v) => n + (typeof v === "number" ? v : 0), 0)
    : 0

/**
 * The counts of every `session.json` under `root`, read after the server exited. A folder without one is
 * reported with no messages, so a session the recorder lost is visible.
 */
export const sessionCounts = async (root: string): Promise<ReadonlyArray<SessionCounts>> => {
  const folders = await sessionFolders(root)
  return Promise.all(folders.map(async (folder): Promise<SessionCounts> => {
    const summary = await readJson(Path.join(folder, "session.json"))
    const counts = summary?.counts
    const botId = typeof summary?.botId === "string"
      ? summary.botId
      : typeof summary?.session === "string"
      ? summary.session
      : null
    return {
      folder,
      botId,
      messages: typeof counts?.messages === "number" ? counts.messages : sum(counts?.byEvent),
      decodeFailures: typeof counts?.decodeFailures === "number" ? counts.decodeFailures : 0,
      droppedMedia: typeof counts?.droppedMedia === "number" ? counts.droppedMedia : 0
    }
  }))
}
