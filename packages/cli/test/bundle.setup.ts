// The `callstream` command the black-box tests start, compiled once per run (see `scripts/bundle.ts`): run through
// tsx, `callstream --help` took 2.8 s and 4.7 s of CPU, compiled 1.5 s and 2 s (and serve's recorder thread loaded
// tsx again). The tests run it as an installed package runs: one module on plain Node.
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"
import * as Bundle from "../scripts/bundle.js"
import { runFolder } from "./runFolder.js"

declare module "vitest" {
  export interface ProvidedContext {
    /** The compiled `callstream` command (`callstream.mjs`, its recorder thread beside it). */
    readonly callstreamBin: string
  }
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")

export default async function setup(project: TestProject): Promise<() => void> {
  // inside node_modules, where the packages the command imports resolve from (a run killed before its teardown
  // left its folder there: the next run removes it)
  const outdir = runFolder(path.join(root, "node_modules"), ".callstream-test-")
  await Bundle.bundle({ root, entries: Bundle.commandEntries(root), outdir })
  project.provide("callstreamBin", path.join(outdir, "callstream.mjs"))
  return () => fs.rmSync(outdir, { recursive: true, force: true })
}
