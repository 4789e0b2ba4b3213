import * as os from "node:os"
import { defineConfig } from "vitest/config"

// One vitest project per package; each package's vitest.config.ts names it.
export default defineConfig({
  test: {
    projects: ["packages/*"],
    globalSetup: ["./vitest.tmpdir.ts"],
    // vitest's default is one file at a time less than the cores (one, on two cores); most of this suite waits on
    // child processes, sockets and timers, so two files run at once even on two cores
    maxWorkers: Math.max(2, os.availableParallelism() - 1)
  }
})
