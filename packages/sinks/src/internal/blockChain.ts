import * as BlockPool from "./blockPool.js"

/**
 * Bytes waiting to be written, in a chain of blocks from the process's `BlockPool`: appended at the end, handed out
 * as views of the blocks (for one gathered write), and given back from the front once they are on disk. Blocks never
 * move, so views handed out stay valid while more is appended; a chain with nothing waiting holds no block.
 *
 * @internal
 */
export class BlockChain {
  // bytes waiting: from `start` in the first block to `end` in the last (full blocks in between)
  private blocks: Array<Buffer> = []
  private start = 0
  private end = 0
  private waiting = 0

  /** Bytes waiting. */
  get bytes(): number {
    return this.waiting
  }

  /** Bytes of memory held (whole blocks). */
  get capacity(): number {
    return this.blocks.length * BlockPool.BLOCK_BYTES
  }

  append(bytes: Uint8Array): void {
    let from = 0
    while (from < bytes.byteLength) {
      if (this.blocks.length === 0 || this.end === BlockPool.BLOCK_BYTES) {
        this.blocks.push(BlockPool.take())
        this.end = 0
      }
      const count = Math.min(BlockPool.BLOCK_BYTES - this.end, bytes.byteLength - from)
      this.blocks[this.blocks.length - 1]!.set(bytes.subarray(from, from + count), this.end)
      this.end += count
      from += count
    }
    this.waiting += bytes.byteLength
  }

  /** Appends `text` as UTF-8. */
  appendText(text: string): void {
    if (text.length === 0) return
    // a UTF-16 unit takes at most 3 bytes of UTF-8: with that much room in the last block, no pass to count them
    const room = this.blocks.length === 0 ? 0 : BlockPool.BLOCK_BYTES - this.end
    if (text.length * 3 <= room || (text.length <= room && Buffer.byteLength(text) <= room)) {
      const written = this.blocks[this.blocks.length - 1]!.write(text, this.end)
      this.end += written
      this.waiting += written
      return
    }
    // across blocks: encoded once into the scratch buffer, then copied (a character may straddle two blocks)
    const bytes = Buffer.byteLength(text)
    if (scratch.length < bytes) scratch = Buffer.allocUnsafeSlow(Math.max(bytes, scratch.length * 2))
    scratch.write(text, 0)
    this.append(scratch.subarray(0, bytes))
  }

  /** Everything waiting, as views of the blocks, in order. */
  views(): Array<Uint8Array> {
    const last = this.blocks.length - 1
    return this.blocks.map((block, i) => block.subarray(i === 0 ? this.start : 0, i === last ? this.end : block.length))
  }

  /** The first `bytes` bytes reached the disk: blocks wholly written go back to the pool. */
  consume(bytes: number): void {
    this.waiting = Math.max(0, this.waiting - bytes)
    let left = bytes
    while (left > 0 && this.blocks.length > 0) {
      const blockEnd = this.blocks.length === 1 ? this.end : BlockPool.BLOCK_BYTES
      const here = Math.min(left, blockEnd - this.start)
      left -= here
      this.start += here
      if (this.start === blockEnd && this.blocks.length > 1) {
        BlockPool.give(this.blocks.shift()!)
        this.start = 0
      }
    }
    if (this.waiting === 0 && this.blocks.length === 1) {
      BlockPool.give(this.blocks.pop()!)
      this.start = this.end = 0
    }
  }

  /** Gives up everything waiting; a write may still be reading the blocks, so they are left to the collector. */
  forget(): void {
    for (const block of this.blocks) BlockPool.forget(block)
    this.blocks = []
    this.start = this.end = this.waiting = 0
  }
}

// where a text that spans blocks is encoded first (appends are synchronous: one at a time)
let scratch = Buffer.allocUnsafeSlow(64 * 1024)
