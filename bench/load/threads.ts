/**
 * How busy a server's threads are, from its Prometheus endpoint: `callstream serve` shows the share of each second
 * its main thread's event loop and its busiest recorder thread's were busy (`callstream_main_thread_busy_ratio`,
 * `callstream_recorder_thread_busy_ratio`), sampled here every second. A version of serve without these gauges
 * (an older one, under `--ref`) gives no samples.
 */

/** One sample, as shares of a second (0 to 1). */
export interface ThreadsSample {
  /** Epoch ms. */
  readonly at: number
  readonly main: number
  /** The busiest recorder thread's, when the server records. */
  readonly recorder: number | null
}

const MAIN = "callstream_main_thread_busy_ratio"
const RECORDER = "callstream_recorder_thread_busy_ratio"

/** The value of an unlabelled gauge in a Prometheus text exposition, or null. */
export const gaugeOf = (text: string, name: string): number | null => {
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text)
  if (match === null) return null
  const value = Number(match[1])
  return Number.isFinite(value) ? value : null
}

/** Scrapes `url` every `intervalMs` until stopped; a scrape that fails or is slow is skipped. */
export class ThreadsSampler {
  readonly samples: Array<ThreadsSample> = []
  private readonly timer: NodeJS.Timeout
  private scraping = false

  constructor(private readonly url: string, intervalMs: number) {
    this.timer = setInterval(() => void this.scrape(), intervalMs)
  }

  private async scrape() {
    if (this.scraping) return
    this.scraping = true
    try {
      const response = await fetch(this.url, { signal: AbortSignal.timeout(2000) })
      const text = await response.text()
      const main = gaugeOf(text, MAIN)
      if (main !== null) this.samples.push({ at: Date.now(), main, recorder: gaugeOf(text, RECORDER) })
    } catch {
      // the server is busy or stopping: this second goes without a sample
    } finally {
      this.scraping = false
    }
  }

  stop(): ReadonlyArray<ThreadsSample> {
    clearInterval(this.timer)
    return this.samples
  }
}
