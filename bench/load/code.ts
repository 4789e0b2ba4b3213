/**
 * Which code the servers under test run. By default this checkout, as it is on disk; with `--ref REV`, the
 * packages as they were at a git revision, extracted with `git archive` into a temporary folder whose
 * `node_modules` links to this install's (the workspace packages excepted), so a before/after comparison runs the
 * same harness, load and baselines against both.
 */
import { execFileSync, execSync } from "node:child_process"
import { rmSync } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** The root of this checkout. */
export const repo = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..", "..")

export interface Code {
  /** A repository root holding `packages/` and a `node_modules/` that resolves them. */
  readonly root: string
  /** What the report says about it. */
  readonly description: string
  /** Deletes a temporary checkout (synchronous, so an interrupted harness can call it on its way out). */
  readonly remove: () => void
}

const git = (...args: ReadonlyArray<string>) => execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim()

/** This checkout, saying whether the packages hold changes not committed yet. */
export const current = (): Code => {
  let description = "this checkout"
  try {
    const commit = git("rev-parse", "--short", "HEAD")
    const dirty = git("status", "--porcelain", "--", "packages") !== ""
    description = `${commit}${dirty ? " with uncommitted changes in packages/" : ""}`
  } catch {
    // not a git checkout: say no more
  }
  return { root: repo, description, remove: () => {} }
}

/** The packages at `ref`, in a temporary folder. */
export const atRevision = async (ref: string): Promise<Code> => {
  const commit = git("rev-parse", "--verify", `${ref}^{commit}`)
  const root = await Fs.mkdtemp(Path.join(Os.tmpdir(), "callstream-load-code-"))
  execSync(`git archive --format=tar ${commit} | tar -x -C "${root}"`, { cwd: repo })
  const modules = Path.join(root, "node_modules")
  await Fs.mkdir(Path.join(modules, "@callstream"), { recursive: true })
  for (const entry of await Fs.readdir(Path.join(repo, "node_modules"))) {
    if (entry === "@callstream" || entry === ".bin") continue
    await Fs.symlink(Path.join(repo, "node_modules", entry), Path.join(modules, entry))
  }
  for (const dir of await Fs.readdir(Path.join(root, "packages"))) {
    const manifest = JSON.parse(await Fs.readFile(Path.join(root, "packages", dir, "package.json"), "utf8"))
    const name = String(manifest.name)
    if (name.startsWith("@callstream/")) {
      await Fs.symlink(Path.join(root, "packages", dir), Path.join(modules, name))
    }
  }
  return {
    root,
    description: `${commit.slice(0, 7)} (\`--ref ${ref}\`)`,
    remove: () => rmSync(root, { recursive: true, force: true })
  }
}
