/**
 * The Node flag `serve` suggests: `--v8-pool-size=1` recording on recorder threads on two cores or fewer,
 * `--max-semi-space-size=32` recording on the main thread, none publishing to Redis; never once the flag is given on
 * Node's command line or in `NODE_OPTIONS`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFlags from "../src/internal/nodeFlags.js"

const threads: NodeFlags.Facts = { cores: 2, execArgv: [], nodeOptions: undefined, recording: "threads" }
const mainThread: NodeFlags.Facts = { ...threads, cores: 8, recording: "main thread" }

describe("NodeFlags.tip", () => {
  it("suggests the pool of one with recorder threads on two cores and on one, naming the variable to set", () => {
    assert.include(NodeFlags.tip(threads), "on 2 cores, start Node with NODE_OPTIONS=--v8-pool-size=1")
    assert.include(NodeFlags.tip({ ...threads, cores: 1 }), "on 1 core,")
    assert.include(NodeFlags.tip({ ...threads, nodeOptions: "--max-old-space-size=4096" }), "--v8-pool-size=1")
    assert.include(NodeFlags.tip({ ...threads, execArgv: ["--v8-pool-sizes=2"] }), "--v8-pool-size=1", "another flag")
  })

  it("suggests semi-spaces of 32 MiB recording on the main thread, on any number of cores", () => {
    assert.include(
      NodeFlags.tip(mainThread),
      "recording on the main thread, start Node with NODE_OPTIONS=--max-semi-space-size=32"
    )
    assert.include(
      NodeFlags.tip({ ...mainThread, cores: 2, nodeOptions: "--v8-pool-size=1" }),
      "--max-semi-space-size=32"
    )
  })

  it("suggests nothing with more cores on threads, publishing to Redis, or once the flag is given either way", () => {
    assert.isUndefined(NodeFlags.tip({ ...threads, cores: 3 }))
    assert.isUndefined(NodeFlags.tip({ ...threads, recording: "elsewhere" }))
    assert.isUndefined(NodeFlags.tip({ ...threads, cores: 1, recording: "elsewhere" }))
    assert.isUndefined(NodeFlags.tip({ ...threads, execArgv: ["--v8-pool-size=2"] }))
    assert.isUndefined(NodeFlags.tip({ ...threads, execArgv: ["--v8-pool-size", "1"] }))
    assert.isUndefined(NodeFlags.tip({ ...threads, nodeOptions: "--max-old-space-size=4096  --v8-pool-size=1" }))
    assert.isUndefined(NodeFlags.tip({ ...threads, nodeOptions: "--v8_pool_size=1" }), "Node's underscore spelling")
    assert.isUndefined(NodeFlags.tip({ ...mainThread, execArgv: ["--max-semi-space-size=64"] }))
    assert.isUndefined(NodeFlags.tip({ ...mainThread, nodeOptions: "--max_semi_space_size=32" }))
  })
})
