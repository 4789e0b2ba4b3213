/**
 * Python-compatible numerics for the sample-meeting generator, so that a meeting built here matches one built by
 * `meetgen.py` with the same options number for number:
 *
 * - `make(seed)`: CPython's `random.Random(seed)` for an integer seed (MT19937 seeded with `init_by_array` from
 *   the 32-bit words of `abs(seed)`), with `random()` and `uniform(a, b)` computed the way CPython does.
 * - `round(x, digits)`: CPython's `round(float, ndigits)`, i.e. the exact binary value rounded to `digits`
 *   decimals with ties to even, then read back as the nearest double.
 * - `floorDiv(a, b)`: CPython's `float // float`.
 *
 * @internal
 */

const N = 624
const M = 397
const MATRIX_A = 0x9908b0df
const UPPER_MASK = 0x80000000
const LOWER_MASK = 0x7fffffff

/**
 * A Mersenne Twister stream that draws the same numbers as CPython's `random.Random`.
 *
 * @internal
 */
export interface PyRandom {
  /** The next 32-bit output of MT19937, as an unsigned integer. */
  readonly uint32: () => number
  /** A float in [0, 1) built from 53 random bits, as CPython's `random()`. */
  readonly random: () => number
  /** `a + (b - a) * random()`, as CPython's `uniform(a, b)`. */
  readonly uniform: (a: number, b: number) => number
}

// The 32-bit words of |seed|, least significant first; zero gives [0], as in CPython's random_seed.
const seedKey = (seed: number | bigint): Array<number> => {
  if (typeof seed === "number" && !Number.isSafeInteger(seed)) {
    throw new RangeError(`The seed must be a safe integer, got ${seed}`)
  }
  let n = BigInt(seed)
  if (n < 0n) n = -n
  const key: Array<number> = []
  while (n > 0n) {
    key.push(Number(n & 0xffffffffn))
    n >>= 32n
  }
  return key.length === 0 ? [0] : key
}

/**
 * A generator seeded like `random.Random(seed)` with an integer seed.
 *
 * @internal
 */
export const make = (seed: number | bigint): PyRandom => {
  const mt = new Uint32Array(N)
  let index = N + 1

  const initGenrand = (s: number) => {
    mt[0] = s >>> 0
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30)
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0
    }
    index = N
  }

  const initByArray = (key: ReadonlyArray<number>) => {
    initGenrand(19650218)
    let i = 1
    let j = 0
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30)
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1664525)) + key[j]! + j) >>> 0
      i++
      j++
      if (i >= N) {
        mt[0] = mt[N - 1]!
        i = 1
      }
      if (j >= key.length) j = 0
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30)
      mt[i] = ((mt[i]! ^ Math.imul(prev, 1566083941)) - i) >>> 0
      i++
      if (i >= N) {
        mt[0] = mt[N - 1]!
        i = 1
      }
    }
    mt[0] = 0x80000000
  }

  const twist = () => {
    for (let kk = 0; kk < N; kk++) {
      const y = (mt[kk]! & UPPER_MASK) | (mt[(kk + 1) % N]! & LOWER_MASK)
      mt[kk] = mt[(kk + M) % N]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)
    }
    index = 0
  }

  const uint32 = (): number => {
    if (index >= N) twist()
    let y = mt[index++]!
    y ^= y >>> 11
    y ^= (y << 7) & 0x9d2c5680
    y ^= (y << 15) & 0xefc60000
    y ^= y >>> 18
    return y >>> 0
  }

  const random = (): number => {
    const a = uint32() >>> 5
    const b = uint32() >>> 6
    return (a * 67108864 + b) / 9007199254740992
  }

  initByArray(seedKey(seed))
  return { uint32, random, uniform: (a, b) => a + (b - a) * random() }
}

const bits = new DataView(new ArrayBuffer(8))

// x = mantissa * 2^exponent exactly, mantissa a non-negative integer (x finite and non-negative).
const decompose = (x: number): { readonly mantissa: bigint; readonly exponent: number } => {
  bits.setFloat64(0, x)
  const high = bits.getUint32(0)
  const low = bits.getUint32(4)
  const biased = (high >>> 20) & 0x7ff
  const fraction = (BigInt(high & 0xfffff) << 32n) | BigInt(low)
  return biased === 0
    ? { mantissa: fraction, exponent: -1074 }
    : { mantissa: fraction | (1n << 52n), exponent: biased - 1075 }
}

/**
 * CPython's `round(x, digits)` for a float and a non-negative `digits`: the exact value of `x` rounded to
 * `digits` decimal places (halfway cases to even), returned as the double nearest to that decimal.
 *
 * @internal
 */
export const round = (x: number, digits: number): number => {
  if (!Number.isFinite(x) || x === 0) return x
  if (!Number.isInteger(digits) || digits < 0 || digits > 300) {
    throw new RangeError(`digits must be an integer in [0, 300], got ${digits}`)
  }
  const negative = x < 0
  const { exponent, mantissa } = decompose(Math.abs(x))
  if (exponent >= 0) return x
  const scaled = mantissa * 10n ** BigInt(digits)
  const denominator = 1n << BigInt(-exponent)
  let quotient = scaled / denominator
  const twice = (scaled % denominator) * 2n
  if (twice > denominator || (twice === denominator && (quotient & 1n) === 1n)) quotient++
  const text = quotient.toString().padStart(digits + 1, "0")
  const decimal = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`
  return Number(negative ? `-${decimal}` : decimal)
}

/**
 * CPython's `a // b` for floats (floor of the quotient, computed through `fmod` as CPython does).
 *
 * @internal
 */
export const floorDiv = (a: number, b: number): number => {
  if (b === 0) throw new RangeError("float floor division by zero")
  const mod = a % b
  let div = (a - mod) / b
  if (mod !== 0 && (b < 0) !== (mod < 0)) div -= 1
  if (div === 0) return (a / b < 0 || Object.is(a / b, -0)) ? -0 : 0
  let floor = Math.floor(div)
  if (div - floor > 0.5) floor += 1
  return floor
}
