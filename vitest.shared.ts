import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { ViteUserConfig } from "vitest/config"

const packages = path.join(path.dirname(fileURLToPath(import.meta.url)), "packages")

/** Settings every package's vitest config starts from. */
export const shared: ViteUserConfig = {
  resolve: {
    // Inside the repository, `@callstream/*` imports load the TypeScript sources, as `paths` in tsconfig.base.json
    // tells tsc and tsx; installed packages load their compiled `dist/` through `exports`.
    alias: [
      { find: /^@callstream\/([a-z]+)$/, replacement: `${packages}/$1/src/index.ts` },
      { find: /^@callstream\/([a-z]+)\/(.+)$/, replacement: `${packages}/$1/src/$2.ts` }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
}
