import * as fs from "node:fs"
import * as os from "node:os"
import { runFolder } from "./packages/cli/test/runFolder.js"

/**
 * The tests' temporary folders, all in one folder of this run's, removed when the run ends. Tests (and the servers
 * they start, which inherit the environment) make their folders under `os.tmpdir()`, which reads `TMPDIR`; left
 * behind, a run of the suite kept about 60 MB of recordings in the system's temporary folder.
 */
export default function setup(): () => void {
  // a run killed before its teardown left its folder: the next run removes it
  const root = runFolder(os.tmpdir(), "callstream-test-")
  const previous = process.env.TMPDIR
  process.env.TMPDIR = root
  return () => {
    if (previous === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = previous
    fs.rmSync(root, { recursive: true, force: true })
  }
}
