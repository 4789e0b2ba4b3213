import * as fs from "node:fs"
import * as path from "node:path"

/**
 * A folder for one run of the tests, in `parent`, named `<prefix><pid>-<random>`; folders of earlier runs whose
 * process is gone (a run killed before its teardown) are removed first. A run still going (its process alive, as a
 * second suite run at the same time) keeps its folder.
 */
export const runFolder = (parent: string, prefix: string): string => {
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue
    const pid = Number(name.slice(prefix.length, name.indexOf("-", prefix.length)))
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) {
      fs.rmSync(path.join(parent, name), { recursive: true, force: true })
    }
  }
  return fs.mkdtempSync(path.join(parent, `${prefix}${process.pid}-`))
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, as another user's
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}
