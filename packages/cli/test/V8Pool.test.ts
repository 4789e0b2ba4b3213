/**
 * When `serve` suggests Node's `--v8-pool-size=1`: recording here, on two cores or fewer, with the pool size not
 * given on Node's command line or in `NODE_OPTIONS`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as V8Pool from "../src/internal/v8Pool.js"

const base: V8Pool.Facts = { cores: 2, execArgv: [], nodeOptions: undefined, recordsHere: true }

describe("V8Pool.tip", () => {
  it("is given on two cores and on one, naming the variable to set", () => {
    assert.include(V8Pool.tip(base), "on 2 cores, start Node with NODE_OPTIONS=--v8-pool-size=1")
    assert.include(V8Pool.tip({ ...base, cores: 1 }), "on 1 core,")
    assert.include(V8Pool.tip({ ...base, nodeOptions: "--max-old-space-size=4096" }), "--v8-pool-size=1")
    assert.include(V8Pool.tip({ ...base, execArgv: ["--v8-pool-sizes=2"] }), "--v8-pool-size=1", "another flag")
  })

  it("is not given with more cores, without a recorder here, or once the pool size is set either way", () => {
    assert.isUndefined(V8Pool.tip({ ...base, cores: 3 }))
    assert.isUndefined(V8Pool.tip({ ...base, recordsHere: false }))
    assert.isUndefined(V8Pool.tip({ ...base, execArgv: ["--v8-pool-size=2"] }))
    assert.isUndefined(V8Pool.tip({ ...base, execArgv: ["--v8-pool-size", "1"] }))
    assert.isUndefined(V8Pool.tip({ ...base, nodeOptions: "--max-old-space-size=4096  --v8-pool-size=1" }))
    assert.isUndefined(V8Pool.tip({ ...base, nodeOptions: "--v8_pool_size=1" }), "Node's underscore spelling")
  })
})
