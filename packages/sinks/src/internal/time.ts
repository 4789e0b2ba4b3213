const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

/** Formats meeting seconds: `short` is `mm:ss`, `srt` is `hh:mm:ss,mmm`, `vtt` is `hh:mm:ss.mmm`. */
export const clock = (seconds: number, style: "short" | "srt" | "vtt"): string => {
  const ms = Math.max(0, Math.round(seconds * 1000))
  const s = Math.floor(ms / 1000)
  if (style === "short") return `${pad(Math.floor(s / 60))}:${pad(s % 60)}`
  const hms = `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`
  return `${hms}${style === "srt" ? "," : "."}${pad(ms % 1000, 3)}`
}
