/**
 * What the servers under test run: by default each one is compiled before the run into a single JavaScript module
 * (the workspace packages bundled from their sources, every other package loaded from `node_modules` as usual), so
 * every target runs as an installed package does, on plain Node. Run through tsx instead (`--tsx`), each process
 * also carries tsx's loader: a second V8 isolate on a thread of its own (about 50 MB of heap), and seconds of
 * transpiling at start, which an installed package never pays; that mode keeps file names in CPU profiles.
 */
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Bundle from "../../packages/cli/scripts/bundle.js"

const here = Path.dirname(fileURLToPath(import.meta.url))

/** The command lines (after `node` and its flags) of the programs the targets start. */
export interface Programs {
  /** The checkout they come from: where they run (tsx reads its `tsconfig.json` paths from there). */
  readonly root: string
  /** `callstream`. */
  readonly cli: ReadonlyArray<string>
  /** The bare server (`bare-server.ts`). */
  readonly bareServer: ReadonlyArray<string>
  /** The library path (`library-server.ts`), which loads `RecallServer` from `serverModule`. */
  readonly libraryServer: ReadonlyArray<string>
  readonly serverModule: string
  /** What the report says about them. */
  readonly description: string
}

const TSX = ["--import", "tsx"]

/** The sources of the checkout at `root`, through tsx. */
export const sources = (root: string): Programs => ({
  root,
  cli: [Path.join(root, "packages/cli/bin/callstream.js")],
  bareServer: [...TSX, Path.join(here, "bare-server.ts")],
  libraryServer: [...TSX, Path.join(here, "library-server.ts")],
  serverModule: Path.join(root, "packages/server/src/index.ts"),
  description: "run from their TypeScript sources through tsx (`--tsx`)"
})

/**
 * Every program compiled from the checkout at `root` into `root/node_modules/.callstream-load/` (there, the
 * packages they import resolve from `root/node_modules`). The workspace packages come from their sources through the
 * checkout's `tsconfig.json` paths, so a `--ref` checkout compiles its own.
 */
export const compiled = async (root: string): Promise<Programs> => {
  const out = Path.join(root, "node_modules", ".callstream-load")
  await Fs.rm(out, { recursive: true, force: true })
  const { callstream, recorderWorker } = Bundle.commandEntries(root)
  const entries = {
    callstream,
    server: Path.join(root, "packages/server/src/index.ts"),
    "bare-server": Path.join(here, "bare-server.ts"),
    "library-server": Path.join(here, "library-server.ts")
  }
  // serve's recorder thread: a module of its own, which `callstream` starts from beside itself (older revisions
  // record in the main thread and have none)
  const hasRecorderWorker = await Fs.access(recorderWorker).then(() => true, () => false)
  await Bundle.bundle({ root, entries: hasRecorderWorker ? { ...entries, recorderWorker } : entries, outdir: out })
  const program = (name: keyof typeof entries) => Path.join(out, `${name}.mjs`)
  return {
    root,
    cli: [program("callstream")],
    bareServer: [program("bare-server")],
    libraryServer: [program("library-server")],
    serverModule: program("server"),
    description: "compiled before the run into one module each, run on plain Node"
  }
}
