import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { runFolder } from "./runFolder.js"

const made: Array<string> = []
afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

const tempParent = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "run-folder-"))
  made.push(dir)
  return dir
}

// the pid of a process that has exited
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" })
  return Number(child.stdout)
}

describe("runFolder", () => {
  it("removes the folders of runs whose process is gone, keeps those of live runs and other folders", () => {
    const parent = tempParent()
    const stale = path.join(parent, `.callstream-test-${deadPid()}-abc123`)
    const live = path.join(parent, `.callstream-test-${process.ppid}-def456`)
    const other = path.join(parent, ".callstream-load")
    for (const dir of [stale, live, other]) fs.mkdirSync(path.join(dir, "inner"), { recursive: true })
    fs.writeFileSync(path.join(stale, "inner", "callstream.mjs"), "left behind")

    const folder = runFolder(parent, ".callstream-test-")

    expect(fs.existsSync(stale)).toBe(false)
    expect(fs.existsSync(live)).toBe(true)
    expect(fs.existsSync(other)).toBe(true)
    expect(path.dirname(folder)).toBe(parent)
    expect(path.basename(folder)).toMatch(new RegExp(`^\\.callstream-test-${process.pid}-\\w{6}$`))
    expect(fs.statSync(folder).isDirectory()).toBe(true)
  })

  it("leaves alone a folder with the prefix but no pid in its name", () => {
    const parent = tempParent()
    const odd = path.join(parent, ".callstream-test-notapid")
    fs.mkdirSync(odd)
    runFolder(parent, ".callstream-test-")
    expect(fs.existsSync(odd)).toBe(true)
  })
})
