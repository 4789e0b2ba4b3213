import type { ViteUserConfig } from "vitest/config"

/** Settings every package's vitest config starts from. */
export const shared: ViteUserConfig = {
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
}
