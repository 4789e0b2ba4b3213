/**
 * Fixed-size blocks of memory for what waits to be written: every pending-write buffer of the process (a tape, a
 * control log, an H.264 stream, a WAV track's runs) holds its bytes in a chain of these blocks, takes one when its
 * last is full and gives each back once its bytes are on disk.
 *
 * Why blocks: a recorder holds about one flush interval of each session's data, and a buffer of its own per file has
 * to be sized for the most a flush ever found (a flush that came late), while on average it holds half an interval.
 * At 1,000 recorded meetings that was 186 KB a session (a 64 KiB run buffer for the audio, a tape buffer of about
 * 120 KB) for about 40 KB waiting on average: 176 MB of the process. With blocks a session holds what waits, rounded
 * up to a block per file, and the blocks a flush gives back are taken again by the next appends of any session.
 *
 * @internal
 */

/** The size of a block: a quarter of a second of tape at the usual rate, half a second of 16 kHz audio. */
export const BLOCK_BYTES = 16 * 1024

// free blocks, for the next appends of any buffer. It keeps a quarter as many as are in use, at least `MIN_FREE`:
// the flush timer writes a fifth of the sessions at a time, and their blocks are taken again within a tick
const free: Array<Buffer> = []
const MIN_FREE = 128
let inUse = 0

/** A block to fill (its old content is still in it). */
export const take = (): Buffer => {
  inUse++
  return free.pop() ?? Buffer.allocUnsafeSlow(BLOCK_BYTES)
}

/** A block whose bytes are written: free for any buffer. */
export const give = (block: Buffer): void => {
  inUse--
  if (free.length < Math.max(MIN_FREE, inUse >> 2)) free.push(block)
}

/**
 * A block given up while a write may still be reading it (a buffer that drops what waits): it is left to the garbage
 * collector, never handed out again.
 */
export const forget = (_block: Buffer): void => {
  inUse--
}

/** Blocks handed out and not given back, and blocks free. */
export const usage = (): { readonly inUse: number; readonly free: number } => ({ inUse, free: free.length })
