/**
 * Small statistics for the load report.
 */

/** The q-quantile by linear interpolation between closest ranks; NaN for no values. */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const lo = Math.floor(at)
  return sorted[lo]! + (sorted[Math.ceil(at)]! - sorted[lo]!) * (at - lo)
}

export const median = (values: ReadonlyArray<number>): number => quantile(values, 0.5)

export const max = (values: ReadonlyArray<number>): number =>
  values.length === 0 ? NaN : values.reduce((a, b) => Math.max(a, b), -Infinity)

/** Median and maximum, the pair most columns report. */
export interface Spread {
  readonly median: number
  readonly max: number
}

export const spread = (values: ReadonlyArray<number>): Spread => ({ median: median(values), max: max(values) })
