/**
 * A minimal PNG encoder for solid-colour test frames: 8-bit RGB, no interlace, every row with filter type 0,
 * chunks IHDR, IDAT (zlib, default level) and IEND, each with its CRC-32. It writes the same bytes as the
 * `png()` helper of `meetgen.py`.
 *
 * @internal
 */
import * as Zlib from "node:zlib"

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)

let table: Uint32Array | undefined

/**
 * CRC-32 computed with a table, for Node releases before 20.15, which have no `zlib.crc32`.
 *
 * @internal
 */
export const crc32Fallback = (bytes: Uint8Array): number => {
  if (table === undefined) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (const byte of bytes) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/**
 * CRC-32 (the PNG and zlib polynomial) of some bytes.
 *
 * @internal
 */
export const crc32 = (bytes: Uint8Array): number =>
  typeof Zlib.crc32 === "function" ? Zlib.crc32(bytes) >>> 0 : crc32Fallback(bytes)

const chunk = (type: string, data: Uint8Array): Buffer => {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data])
  const out = Buffer.alloc(body.length + 8)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(crc32(body), body.length + 4)
  return out
}

/**
 * A `width` x `height` PNG of `pixels`: 3 bytes (red, green, blue) a pixel, row after row.
 *
 * @internal
 */
export const rgb = (width: number, height: number, pixels: Uint8Array): Uint8Array => {
  const stride = 1 + width * 3
  const raw = Buffer.alloc(stride * height)
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width * 3, (y + 1) * width * 3), y * stride + 1)
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header[8] = 8 // bit depth
  header[9] = 2 // colour type: truecolour
  return Buffer.concat([
    SIGNATURE,
    chunk("IHDR", header),
    chunk("IDAT", Zlib.deflateSync(raw)),
    chunk("IEND", new Uint8Array(0))
  ])
}

/**
 * A `width` x `height` PNG filled with one RGB colour.
 *
 * @internal
 */
export const solidRgb = (width: number, height: number, colour: readonly [number, number, number]): Uint8Array => {
  const pixels = new Uint8Array(width * height * 3)
  for (let at = 0; at < pixels.length; at += 3) pixels.set(colour, at)
  return rgb(width, height, pixels)
}
