/**
 * The load generator: a separate process that plays N Recall bots in real time, one websocket connection each.
 * The harness forks it, sends a `Plan` over IPC and gets a `Result` back; it can ask for a `Snapshot` of the audio
 * each bot has sent so far at any time.
 *
 * Connections open evenly over the ramp. Each bot's schedule is anchored on its own open time (message n is due at
 * a fixed offset from it), so a late tick sends what is due and catches up instead of drifting. Sends copy
 * precomputed bytes and patch ids and times in place (see `messages.ts`); a connection the server stops reading
 * skips messages past a send-buffer cap and counts them, so the generator's memory stays bounded. A sample of
 * connections is pinged once a second, and the pong times the server's event loop as a bot sees it.
 */
import { randomUUID } from "node:crypto"
import { WebSocket } from "ws"
import { audioSecondsPerChunk, BotMessages, CYCLE_MS, cycleOf } from "./messages.js"
import type { BotResult, FromGenerator, Plan, Snapshot, ToGenerator } from "./protocol.js"

const TICK_MS = 10

const now = () => performance.now()
const epoch = (perf: number) => performance.timeOrigin + perf

class Bot {
  ws: WebSocket | null = null
  messages: BotMessages | null = null
  connectedAt = 0
  openedAt: number | null = null
  failure: string | null = null
  droppedWith: number | null = null
  leaving = false
  closed = false
  cut = false
  /** Index of the next message of the cycle stream. */
  next = 0
  nextDue = Infinity
  nextPing = Infinity
  written = 0
  skipped = 0
  failed = 0
  audioSent = 0

  constructor(readonly index: number, readonly botId: string, readonly pinged: boolean) {}

  get open(): boolean {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN && !this.leaving
  }

  result(): BotResult {
    return {
      botId: this.botId,
      openedAt: this.openedAt === null ? null : Math.round(epoch(this.openedAt)),
      handshakeMs: this.openedAt === null ? null : this.openedAt - this.connectedAt,
      failure: this.failure,
      droppedWith: this.droppedWith,
      written: this.written,
      skipped: this.skipped,
      failed: this.failed,
      closedCleanly: this.openedAt !== null && this.droppedWith === null && !this.cut
    }
  }
}

/** Lateness of sends against their schedule, as a histogram of whole milliseconds (the last bucket is "or more"). */
const lateness = new Uint32Array(10_001)
const quantileOf = (histogram: Uint32Array, q: number): number => {
  let total = 0
  for (const n of histogram) total += n
  let seen = 0
  for (let ms = 0; ms < histogram.length; ms++) {
    seen += histogram[ms]!
    if (seen > 0 && seen >= q * total) return ms
  }
  return 0
}

const handshakeFailure = (error: Error & { readonly code?: string }): string => {
  const status = /Unexpected server response: (\d+)/.exec(error.message)
  if (status !== null) return `http ${status[1]}`
  if (/timed out/i.test(error.message)) return "timeout"
  if (/closed before the connection was established/.test(error.message)) return "still opening when sending ended"
  return error.code ?? error.message
}

const play = (plan: Plan, reply: (message: FromGenerator) => void) => {
  const startedAt = now()
  const sendEnd = startedAt + plan.sendMs
  const cycle = cycleOf(plan.cameras)
  const pingStride = plan.pingSample > 0 ? Math.max(1, Math.floor(plan.bots / plan.pingSample)) : Infinity
  const bots = Array.from({ length: plan.bots }, (_, i) => new Bot(i, randomUUID(), i % pingStride === 0))
  const pings: Array<readonly [number, number]> = []
  let pingsSent = 0
  let connected = 0
  const ping = Buffer.alloc(8)

  const send = (bot: Bot, bytes: Buffer, isAudio: boolean) => {
    const ws = bot.ws!
    if (ws.bufferedAmount > plan.maxBufferedBytes) {
      bot.skipped++
      return
    }
    if (isAudio) bot.audioSent++
    ws.send(bytes, { binary: false }, (error) => {
      if (error === undefined || error === null) bot.written++
      else bot.failed++
    })
  }

  const connect = (bot: Bot) => {
    bot.connectedAt = now()
    const ws = new WebSocket(plan.urls[bot.index % plan.urls.length]!, {
      perMessageDeflate: false,
      handshakeTimeout: plan.handshakeTimeoutMs
    })
    bot.ws = ws
    ws.on("open", () => {
      const at = now()
      bot.openedAt = at
      if (at >= sendEnd) return
      bot.messages = new BotMessages(bot.botId, randomUUID(), epoch(at), cycle)
      send(bot, bot.messages.join(), false)
      bot.nextDue = at
      if (bot.pinged) bot.nextPing = at + Math.random() * plan.pingIntervalMs
    })
    ws.on("error", (error: Error) => {
      if (bot.openedAt === null && bot.failure === null) bot.failure = handshakeFailure(error)
    })
    ws.on("close", (code: number) => {
      bot.closed = true
      if (bot.openedAt !== null && !bot.leaving) bot.droppedWith = code
    })
    ws.on("pong", (data: Buffer) => {
      if (data.length === 8) {
        const sentAt = data.readDoubleLE(0)
        pings.push([Math.round(epoch(sentAt)), now() - sentAt])
      }
    })
  }

  const tick = () => {
    const t = now()
    while (connected < plan.bots && t >= startedAt + (connected * plan.rampMs) / plan.bots) {
      connect(bots[connected++]!)
    }
    for (const bot of bots) {
      if (!bot.open) continue
      while (bot.nextDue <= t && bot.nextDue < sendEnd) {
        const step = cycle[bot.next % cycle.length]!
        const cycleStart = Math.floor(bot.next / cycle.length) * CYCLE_MS
        lateness[Math.min(lateness.length - 1, Math.floor(t - bot.nextDue))]!++
        send(bot, bot.messages!.fill(step.template, (cycleStart + step.atMs) / 1000), step.isAudio)
        bot.next++
        const following = cycle[bot.next % cycle.length]!
        bot.nextDue = bot.openedAt! + Math.floor(bot.next / cycle.length) * CYCLE_MS + following.sendMs
      }
      if (bot.nextPing <= t && t < sendEnd) {
        ping.writeDoubleLE(t, 0)
        bot.ws!.ping(ping)
        pingsSent++
        bot.nextPing += plan.pingIntervalMs
      }
    }
    if (t >= sendEnd && connected === plan.bots) {
      clearInterval(timer)
      void finish()
    }
  }

  const finish = async () => {
    const sendEndedAt = now()
    for (const bot of bots) {
      if (!bot.open) continue
      if (bot.messages !== null) send(bot, bot.messages.leave((sendEndedAt - bot.openedAt!) / 1000), false)
      bot.leaving = true
      bot.ws!.close(1000, "bot left")
    }
    // handshakes still in flight give up too
    for (const bot of bots) if (bot.openedAt === null && bot.ws !== null) bot.ws.terminate()
    const deadline = now() + plan.closeTimeoutMs
    while (bots.some((bot) => bot.openedAt !== null && !bot.closed) && now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    for (const bot of bots) {
      if (bot.openedAt !== null && !bot.closed) {
        bot.cut = true
        bot.ws!.terminate()
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
    reply({
      type: "result",
      startedAt: Math.round(epoch(startedAt)),
      sendEndedAt: Math.round(epoch(sendEndedAt)),
      bots: bots.map((bot) => bot.result()),
      pings,
      pingsUnanswered: pingsSent - pings.length,
      lateness: { p50: quantileOf(lateness, 0.5), p99: quantileOf(lateness, 0.99), max: quantileOf(lateness, 1) }
    })
  }

  const snapshot = (): Snapshot => {
    const audioSeconds: Record<string, number> = {}
    for (const bot of bots) if (bot.messages !== null) audioSeconds[bot.botId] = bot.audioSent * audioSecondsPerChunk
    return { type: "snapshot", at: Math.round(epoch(now())), audioSeconds }
  }

  const timer = setInterval(tick, TICK_MS)
  return { snapshot }
}

let running: ReturnType<typeof play> | undefined
const reply = (message: FromGenerator) => process.send!(message)
process.on("message", (message: ToGenerator) => {
  if (message.type === "plan" && running === undefined) {
    running = play(message, (result) => process.send!(result, undefined, undefined, () => process.exit(0)))
  } else if (message.type === "snapshot" && running !== undefined) {
    reply(running.snapshot())
  }
})
process.on("disconnect", () => process.exit(0))
reply({ type: "ready" })
