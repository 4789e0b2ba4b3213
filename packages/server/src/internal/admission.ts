/** The connection limits an upgrade must pass. */
export interface AdmissionOptions {
  /** Open websocket connections, all peers together. */
  readonly maxConnections: number
  /** Open websocket connections from one remote address. */
  readonly maxConnectionsPerAddress: number
}

/**
 * Admission of new connections: how many are open, in all and per remote address. Holds one count per address with
 * an open connection, so it is bounded by the connection limit.
 */
export class Admission {
  private readonly byAddress = new Map<string, number>()
  private open = 0

  constructor(readonly options: AdmissionOptions) {}

  /** The limit an upgrade from `remote` would break, if any. */
  check(remote: string | undefined): "connections" | "connections_per_address" | undefined {
    if (this.open >= this.options.maxConnections) return "connections"
    if ((this.byAddress.get(remote ?? "") ?? 0) >= this.options.maxConnectionsPerAddress) {
      return "connections_per_address"
    }
    return undefined
  }

  opened(remote: string | undefined): void {
    this.open++
    const key = remote ?? ""
    this.byAddress.set(key, (this.byAddress.get(key) ?? 0) + 1)
  }

  closed(remote: string | undefined): void {
    this.open--
    const key = remote ?? ""
    const left = (this.byAddress.get(key) ?? 1) - 1
    if (left <= 0) this.byAddress.delete(key)
    else this.byAddress.set(key, left)
  }

  /** Remote addresses with an open connection. */
  get addresses(): number {
    return this.byAddress.size
  }
}
