import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

const sanitizeName = (name: string): string => name.replace(/[^a-zA-Z0-9_:]/g, "_")

const labels = (tags: ReadonlyArray<readonly [string, string]>): string =>
  tags.length === 0 ? "" : `{${tags.map(([k, v]) => `${sanitizeName(k)}="${escapeLabel(v)}"`).join(",")}}`

const num = (n: number | bigint): string =>
  typeof n === "bigint" ? n.toString() : Number.isNaN(n) ? "NaN" : n === Infinity ? "+Inf" : n === -Infinity
    ? "-Inf"
    : String(n)

interface Family {
  type: string
  help: string | undefined
  lines: Array<string>
}

/**
 * Renders metric pairs in the Prometheus text exposition format (version 0.0.4). Metrics that share a name
 * (the same metric under different tags) form one family with one `# TYPE` line.
 */
export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>, prefix?: string): string => {
  const families = new Map<string, Family>()
  const family = (name: string, type: string, help: string | undefined): Family => {
    let f = families.get(name)
    if (f === undefined) {
      f = { type, help, lines: [] }
      families.set(name, f)
    }
    return f
  }
  for (const pair of pairs) {
    const key = pair.metricKey
    if (prefix !== undefined && !key.name.startsWith(prefix)) continue
    const name = sanitizeName(key.name)
    const tags = key.tags.map((t) => [t.key, t.value] as const)
    const help = Option.getOrUndefined(key.description)
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      family(name, "counter", help).lines.push(`${name}${labels(tags)} ${num(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      family(name, "gauge", help).lines.push(`${name}${labels(tags)} ${num(state.value)}`)
    } else if (MetricState.isFrequencyState(state)) {
      const f = family(name, "counter", help)
      for (const [word, count] of state.occurrences) {
        f.lines.push(`${name}${labels([...tags, ["key", word]])} ${count}`)
      }
    } else if (MetricState.isHistogramState(state)) {
      const f = family(name, "histogram", help)
      for (const [bound, count] of state.buckets) {
        f.lines.push(`${name}_bucket${labels([...tags, ["le", num(bound)]])} ${count}`)
      }
      if (!state.buckets.some(([bound]) => bound === Infinity)) {
        f.lines.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${state.count}`)
      }
      f.lines.push(`${name}_sum${labels(tags)} ${num(state.sum)}`)
      f.lines.push(`${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isSummaryState(state)) {
      const f = family(name, "summary", help)
      for (const [q, value] of state.quantiles) {
        f.lines.push(`${name}${labels([...tags, ["quantile", String(q)]])} ${num(Option.getOrElse(value, () => NaN))}`)
      }
      f.lines.push(`${name}_sum${labels(tags)} ${num(state.sum)}`)
      f.lines.push(`${name}_count${labels(tags)} ${state.count}`)
    }
  }
  let out = ""
  for (const [name, f] of families) {
    if (f.help !== undefined) out += `# HELP ${name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n`
    out += `# TYPE ${name} ${f.type}\n`
    for (const line of f.lines) out += `${line}\n`
  }
  return out
}

/** The current value of every metric in the global registry, in Prometheus text. */
export const renderGlobal = (prefix?: string): string => render(Metric.unsafeSnapshot(), prefix)
