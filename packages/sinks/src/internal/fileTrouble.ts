/**
 * Disk trouble, per file of a session: a write or open that fails (a full disk, a folder made read-only, an I/O
 * error) is reported once when a file starts failing and once when it works again, however many writes fail in
 * between; each failure is counted, and the file is left alone for a while (backoff from 1 s, doubling to 30 s)
 * before the next attempt, so a broken disk costs one failed call per file per backoff, not one per message.
 *
 * @internal
 */
export interface Trouble {
  /** Failed writes and opens of every file. */
  readonly failures: number
  /** Bytes given up after a file failed for too long (media only: the tape is never given up). */
  readonly lostBytes: number
  /** Files failing now. */
  readonly failing: number
}

interface FileState {
  failing: boolean
  retryAt: number
  backoff: number
}

const FIRST_BACKOFF_MS = 1_000
const MAX_BACKOFF_MS = 30_000

/** @internal */
export class FileTrouble {
  private readonly files = new Map<string, FileState>()
  private failureCount = 0
  private lost = 0

  /** Whether `file` may be tried now (it is not failing, or its backoff is over). */
  canTry(file: string, now: number): boolean {
    const state = this.files.get(file)
    return state === undefined || !state.failing || now >= state.retryAt
  }

  /** When `file` may next be tried (`now` when it is not failing). */
  retryAt(file: string, now: number): number {
    const state = this.files.get(file)
    return state === undefined || !state.failing ? now : Math.max(now, state.retryAt)
  }

  /** Records a failure; true when the file was working until now (the one time to report it). */
  failed(file: string, now: number): boolean {
    this.failureCount++
    const state = this.files.get(file)
    if (state === undefined || !state.failing) {
      this.files.set(file, { failing: true, retryAt: now + FIRST_BACKOFF_MS, backoff: FIRST_BACKOFF_MS })
      return true
    }
    state.backoff = Math.min(MAX_BACKOFF_MS, state.backoff * 2)
    state.retryAt = now + state.backoff
    return false
  }

  /** Records a success; true when the file was failing until now (the one time to say it recovered). */
  succeeded(file: string): boolean {
    const state = this.files.get(file)
    if (state === undefined || !state.failing) return false
    this.files.delete(file)
    return true
  }

  /** Counts bytes given up. */
  lose(bytes: number): void {
    this.lost += bytes
  }

  get counts(): Trouble {
    let failing = 0
    for (const state of this.files.values()) if (state.failing) failing++
    return { failures: this.failureCount, lostBytes: this.lost, failing }
  }
}
