#!/usr/bin/env node
// The `callstream` command. An installed package runs its compiled dist/. A checkout of the repository has the
// TypeScript sources here instead of a build: they run through tsx (a development dependency of the repository),
// with the repository's tsconfig paths, so the other packages load from their sources too and nothing is stale.
import { existsSync } from "node:fs"
import { fileURLToPath, URL } from "node:url"

const source = new URL("../src/bin.ts", import.meta.url)
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api")
  register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) })
  await import(source.href)
} else {
  await import("../dist/bin.js")
}
