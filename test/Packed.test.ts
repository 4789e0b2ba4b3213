/**
 * The packages as a user gets them: built, packed with `npm pack --workspaces`, installed from the tarballs into a
 * new project outside the repository (npm's cache first, so it stays quick), then used with plain `node`, with no
 * TypeScript loader, and type-checked as a strict `NodeNext` project.
 *
 *   npm run test:pack
 */
import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const libraries = ["core", "server", "sinks", "redis"] as const

interface Packed {
  readonly name: string
  readonly filename: string
  readonly files: ReadonlyArray<{ readonly path: string }>
}

// Commands run as a user would, never as scripts of this repository's npm: its npm_* variables (the workspace
// prefix among them) stay behind, so the install below cannot land in the repository.
const env: Record<string, string> = {}
for (const [key, value] of Object.entries(process.env)) {
  if (value !== undefined && !key.toLowerCase().startsWith("npm_")) env[key] = value
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string): string => {
  const result = ChildProcess.spawnSync(command, args, { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
  const output = `${command} ${args.join(" ")} (exit ${result.status})\n${result.stdout}\n${result.stderr}`
  assert.strictEqual(result.status, 0, output)
  return result.stdout
}
const node = (args: ReadonlyArray<string>, cwd: string) => run(process.execPath, args, cwd)

const modulesOf = (pkg: string): Array<string> =>
  fs.readdirSync(path.join(root, "packages", pkg, "src")).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3))

let work: string
let app: string
let packed: ReadonlyArray<Packed>

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "callstream-packed-"))
  const tarballs = path.join(work, "tarballs")
  fs.mkdirSync(tarballs)
  run("npm", ["run", "build"], root)
  packed = JSON.parse(run("npm", ["pack", "--workspaces", "--json", "--pack-destination", tarballs], root))

  app = path.join(work, "app")
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  const typesNode = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).devDependencies["@types/node"]
  run("npm", [
    "install",
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    ...packed.map((p) => path.join(tarballs, p.filename)),
    `@types/node@${typesNode}`
  ], app)
}, 600_000)

afterAll(() => {
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
})

describe("packed packages", () => {
  it("hold the compiled modules of every public module, and no sources, tests or build state", () => {
    assert.sameMembers(packed.map((p) => p.name), [...libraries, "cli"].map((p) => `@callstream/${p}`))
    for (const p of packed) {
      const files = p.files.map((f) => f.path)
      const pkg = p.name.slice("@callstream/".length)
      assert.include(files, "LICENSE", p.name)
      for (const module of modulesOf(pkg)) {
        for (const ext of [".js", ".js.map", ".d.ts"]) assert.include(files, `dist/${module}${ext}`, p.name)
      }
      for (const file of files) {
        assert.match(file, /^(dist\/|bin\/|package\.json$|README\.md$|LICENSE$)/, `${p.name} ships ${file}`)
        assert.notMatch(file, /tsbuildinfo$/, `${p.name} ships ${file}`)
      }
    }
  })

  it("run with plain node: core, server and sinks decode a message, reduce it, and serve", () => {
    fs.writeFileSync(
      path.join(app, "main.js"),
      `import { Decoder, Fixtures } from "@callstream/core"
import { RecallServer } from "@callstream/server"
import { Transcript } from "@callstream/sinks"
import { Effect, Either } from "effect"

const ada = Fixtures.participant({ id: 7, name: "Ada" })
const frame = JSON.stringify(Fixtures.transcript("hello from the tarballs", { participant: ada, at: 2 }))
const event = Either.getOrThrow(Decoder.decodeEither(frame))
console.log(Transcript.toText(Transcript.reduce(Transcript.empty, event)).trim())

const server = RecallServer.make({ host: "127.0.0.1", port: 0, allowUnauthenticated: true })
console.log(await Effect.runPromise(Effect.scoped(Effect.map(server, (s) => s.address.url))))
`
    )
    // the server logs too: the transcript line comes first, the URL last
    const lines = node(["main.js"], app).trim().split("\n")
    assert.match(lines[0]!, /Ada: hello from the tarballs$/)
    assert.match(lines.at(-1)!, /^ws:\/\/127\.0\.0\.1:\d+\/ws$/)
  })

  it("export every public module by name and refuse internal ones", () => {
    // the command's package exports only its library part (Telemetry), not the command's own modules
    const refusedNames = [
      "@callstream/server/internal/router",
      "@callstream/sinks/internal/files",
      "@callstream/cli/Serve"
    ]
    const names = [
      ...libraries.flatMap((pkg) => modulesOf(pkg).filter((m) => m !== "index").map((m) => `@callstream/${pkg}/${m}`)),
      "@callstream/cli",
      "@callstream/cli/Telemetry"
    ]
    fs.writeFileSync(
      path.join(app, "subpaths.js"),
      `const loaded = []
for (const name of ${JSON.stringify(names)}) loaded.push(Object.keys(await import(name)).length > 0)
const refused = []
for (const name of ${JSON.stringify(refusedNames)}) {
  refused.push(await import(name).then(() => "loaded", (e) => e.code))
}
console.log(JSON.stringify({ loaded, refused }))
`
    )
    const { loaded, refused } = JSON.parse(node(["subpaths.js"], app))
    assert.deepStrictEqual(loaded, names.map(() => true))
    assert.deepStrictEqual(refused, refusedNames.map(() => "ERR_PACKAGE_PATH_NOT_EXPORTED"))
  })

  it("type-check in a strict NodeNext project, with real types rather than any", () => {
    fs.writeFileSync(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          strict: true,
          noEmit: true,
          types: ["node"],
          // what `tsc --init` writes; the declarations this test is about are still checked where used
          skipLibCheck: true
        },
        files: ["consumer.ts"]
      })
    )
    fs.writeFileSync(
      path.join(app, "consumer.ts"),
      `import { Decoder, EventSource, EventStream } from "@callstream/core"
import * as RecallEvent from "@callstream/core/RecallEvent"
import { RecallServer } from "@callstream/server"
import { SessionRecorder, Transcript } from "@callstream/sinks"
import { NodeContext } from "@effect/platform-node"
import { Effect, Either, Layer, Stream } from "effect"

export const captions: Effect.Effect<void, never, EventSource.EventSource> = Effect.gen(function*() {
  const source = yield* EventSource.EventSource
  yield* source.events.pipe(
    EventStream.filterMessages("transcript.data"),
    Stream.runForEach(({ event }) => Effect.log(event.data.data.words.map((word) => word.text).join(" ")))
  )
})

const decoded = Decoder.decodeEither("{}")
export const described: string = Either.isLeft(decoded) ? decoded.left.reason : decoded.right.event
export const isTranscript: (event: RecallEvent.RecallEvent) => boolean = RecallEvent.isTranscriptEvent

export const recorder: Layer.Layer<never, RecallServer.RecallServerError> = SessionRecorder.layer({ directory: "out" })
  .pipe(Layer.provide(RecallServer.layer({ port: 0, allowUnauthenticated: true })), Layer.provide(NodeContext.layer))

export const text = (state: Transcript.Transcript): string => Transcript.toText(state)

// @ts-expect-error a port is a number
RecallServer.layer({ port: "8080" })
// @ts-expect-error the transcript state is not a string
Transcript.toText("hello")
// @ts-expect-error internal modules are not part of the packages
import("@callstream/server/internal/router")
`
    )
    node([path.join(root, "node_modules/typescript/bin/tsc"), "-p", "."], app)
  })

  it("install a callstream command that runs with plain node", () => {
    assert.isFalse(fs.existsSync(path.join(app, "node_modules/tsx")), "tsx is not installed with the packages")
    const bin = path.join(app, "node_modules/.bin/callstream")
    const help = node([bin, "--help"], app)
    for (const command of ["serve", "replay", "demo", "inspect"]) assert.include(help, command)

    const out = path.join(work, "recordings")
    const demo = node([bin, "demo", "--out", out], app)
    assert.include(demo, `Output folder: ${out}`)
    const [session] = fs.readdirSync(out)
    for (const file of ["session.json", "transcript.txt", "participants.json", "audio/mixed.wav"]) {
      assert.isTrue(fs.existsSync(path.join(out, session!, file)), file)
    }
  })

  it("serve records on its recorder thread from the installed files", () => {
    // serve's recorder runs on a thread whose entry is a file of its own in dist/: a meeting sent to an installed
    // serve must come out whole
    const out = path.join(work, "served")
    fs.writeFileSync(
      path.join(app, "serve-a-meeting.mjs"),
      `import { SampleMeeting } from "@callstream/core"
import { spawn } from "node:child_process"
import WebSocket from "ws"

const serve = spawn(process.execPath, ["node_modules/.bin/callstream", "serve", "--port", "0", "--token", "t0ken",
  "--out", ${JSON.stringify(out)}], { stdio: ["ignore", "pipe", "inherit"] })
let output = ""
const url = await new Promise((resolve) => serve.stdout.on("data", (data) => {
  output += data
  const found = /ws:\\/\\/[^\\s?"]+/.exec(output)
  if (found !== null && output.includes("\\n", found.index)) resolve(found[0])
}))
const meeting = SampleMeeting.generate({ seed: 3, duration: 6, separate: true })
const socket = new WebSocket(url + "?token=t0ken")
await new Promise((resolve) => socket.on("open", resolve))
for (const entry of meeting.entries) socket.send(JSON.stringify(entry.message))
await new Promise((resolve) => {
  socket.on("close", resolve)
  socket.close(1000)
})
serve.kill("SIGINT")
const code = await new Promise((resolve) => serve.on("exit", resolve))
console.log(JSON.stringify({ code, sent: meeting.entries.length }))
`
    )
    const result = JSON.parse(node(["serve-a-meeting.mjs"], app).trim().split("\n").pop()!)
    assert.strictEqual(result.code, 0)
    const [session] = fs.readdirSync(out)
    const summary = JSON.parse(fs.readFileSync(path.join(out, session!, "session.json"), "utf8"))
    assert.strictEqual(summary.counts.messages, result.sent)
    assert.isTrue(fs.existsSync(path.join(out, session!, "audio", "mixed.wav")))
  })
})
