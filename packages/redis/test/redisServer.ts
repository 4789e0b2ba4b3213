// Free of the test runner, so scripts and the load benchmark start their Redis the same way (see redisForFile.ts
// for the tests' own).
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const hasRedis = spawnSync("redis-server", ["--version"]).status === 0

/**
 * Whether the tests that need a real Redis run: yes when `redis-server` is installed; when it is not, they are
 * skipped locally with a loud warning, and on CI (`CI=true`) that is an error.
 */
export const redisAvailable = (): boolean => {
  if (hasRedis) return true
  if (process.env.CI === "true") {
    throw new Error("redis-server is missing on CI: .ci/run must install Debian's redis-server")
  }
  console.warn(
    "\n*** redis-server not found: SKIPPING the tests against a real Redis ***\n" +
      "*** install it (Debian/Ubuntu: apt-get install redis-server) to run them ***\n"
  )
  return false
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const answers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect(port, "127.0.0.1")
    let reply = ""
    socket.setTimeout(500, () => socket.destroy())
    socket.on("connect", () => socket.write("PING\r\n"))
    socket.on("data", (data) => {
      reply += data.toString()
      if (reply.includes("\r\n")) socket.end()
    })
    // a server that wants a password answers too, with NOAUTH
    socket.on("close", () => resolve(reply.startsWith("+PONG") || reply.startsWith("-NOAUTH")))
    socket.on("error", () => resolve(false))
  })

/**
 * A `redis-server` of this test file's own: 127.0.0.1, a free port, no persistence, in a temporary folder. It can
 * be stopped and started again on the same port (Redis gone and back).
 */
export class RedisServer {
  private child: ChildProcess | undefined

  private constructor(readonly port: number, readonly dir: string, private readonly args: ReadonlyArray<string>) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Starts a server; `args` are more `redis-server` options (`--requirepass`, say). */
  static async start(args: ReadonlyArray<string> = []): Promise<RedisServer> {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "callstream-redis-"))
    const server = new RedisServer(await freePort(), dir, args)
    await server.resume()
    return server
  }

  async resume(): Promise<void> {
    this.child = spawn("redis-server", [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      this.dir,
      ...this.args
    ], { stdio: "ignore" })
    const deadline = Date.now() + 20_000
    while (!(await answers(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${this.port}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** The server process's id, while it runs. */
  get pid(): number | undefined {
    return this.child?.pid
  }

  /** Stops the process where it is (SIGSTOP): connections stay open and nothing answers, as a hung server. */
  freeze(): void {
    this.child?.kill("SIGSTOP")
  }

  /** Lets a frozen server go on (SIGCONT). */
  thaw(): void {
    this.child?.kill("SIGCONT")
  }

  /** Kills the server at once (SIGKILL: connections drop as they would on a crash). */
  async kill(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (child === undefined || child.exitCode !== null) return
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve())
      child.kill("SIGKILL")
    })
  }

  async stop(): Promise<void> {
    await this.kill()
    Fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * A TCP relay to a port, on a port of its own, that can be cut (every connection dropped, nothing accepted) and
 * restored on the same port: the network between clients and Redis going away and coming back, Redis and its data
 * untouched. It can also be routed elsewhere: connections made after that go to the new port, as a load balancer
 * in front of several servers sends a client that reconnects to another one.
 */
export class Relay {
  private server: Net.Server | undefined
  private readonly sockets = new Set<Net.Socket>()

  private constructor(readonly port: number, private target: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Where new connections go from now on; open ones stay where they are. */
  route(target: number): void {
    this.target = target
  }

  static async start(target: number): Promise<Relay> {
    const relay = new Relay(await freePort(), target)
    await relay.restore()
    return relay
  }

  restore(): Promise<void> {
    const server = Net.createServer((client) => {
      const upstream = Net.connect(this.target, "127.0.0.1")
      for (const socket of [client, upstream]) {
        this.sockets.add(socket)
        socket.on("close", () => this.sockets.delete(socket))
        socket.on("error", () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    this.server = server
    return new Promise((resolve, reject) => {
      server.once("error", reject)
      server.listen(this.port, "127.0.0.1", () => resolve())
    })
  }

  cut(): Promise<void> {
    const server = this.server
    this.server = undefined
    for (const socket of this.sockets) socket.destroy()
    return new Promise((resolve) => (server === undefined ? resolve() : server.close(() => resolve())))
  }
}
