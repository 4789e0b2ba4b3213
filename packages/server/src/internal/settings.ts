import * as V8 from "node:v8"

const MiB = 1024 * 1024

/** Every default the server's options document, in one place. */
export const defaults = {
  host: "0.0.0.0",
  port: 8080,
  path: "/ws",
  maxMessageBytes: 16 * MiB,
  sessionTimeoutSeconds: 95,
  bufferSize: 1024,
  bufferBytes: 16 * MiB,
  maxSessions: 10_000,
  maxSessionsPerConnection: 16,
  maxConnections: 10_000,
  heartbeatSeconds: 30,
  shutdownSeconds: 5
} as const

/**
 * The default memory budget: an eighth of V8's heap limit (about 512 MiB with Node's defaults on a 64-bit machine
 * with enough memory). The heap holds each buffered frame about twice (its text and its parsed form) besides
 * everything else, so this leaves most of the heap to the rest of the program.
 */
export const defaultMemoryBudget = (): number => Math.floor(V8.getHeapStatistics().heap_size_limit / 8)

/** The server's options with every default applied. */
export interface Settings {
  readonly host: string
  readonly port: number
  readonly path: string
  readonly maxMessageBytes: number
  readonly sessionTimeoutMs: number
  readonly heartbeatMs: number
  readonly shutdownMs: number
  readonly bufferSize: number
  readonly bufferBytes: number
  readonly memoryBudget: number
  readonly maxSessions: number
  readonly maxSessionsPerConnection: number
  readonly maxConnections: number
  readonly maxConnectionsPerAddress: number
}

const counts = [
  "maxMessageBytes",
  "bufferSize",
  "bufferBytes",
  "memoryBudget",
  "maxSessions",
  "maxSessionsPerConnection",
  "maxConnections",
  "maxConnectionsPerAddress"
] as const satisfies ReadonlyArray<keyof Settings>

/** What is wrong with the settings, if anything: the first problem, naming the option. */
export const problem = (settings: Settings): string | undefined => {
  if (!settings.path.startsWith("/")) return "path must start with /"
  if (!Number.isInteger(settings.port) || settings.port < 0 || settings.port > 65535) {
    return "port must be a whole number from 0 to 65535"
  }
  for (const name of counts) {
    const value = settings[name]
    if (!Number.isSafeInteger(value) || value < 1) return `${name} must be a whole number of at least 1`
  }
  for (const name of ["sessionTimeoutMs", "heartbeatMs", "shutdownMs"] as const) {
    if (!(settings[name] > 0)) return `${name.replace(/Ms$/, "")} must be a positive duration`
  }
  return undefined
}
