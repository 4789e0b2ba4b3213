import { defineConfig } from "vitest/config"

// The repository-level tests: `npm run test:pack` (run by CI after `npm test`; they build and pack every package).
export default defineConfig({
  test: {
    include: ["*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 600_000
  }
})
