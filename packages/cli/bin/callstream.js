#!/usr/bin/env node
// The packages ship their TypeScript sources; tsx runs them without a build step.
import { register } from "tsx/esm/api"

register()
await import("../src/bin.ts")
