/**
 * A full collection on demand, for the benches that measure what is kept alive, without starting Node with
 * `--expose-gc`: the flag is set on first use and `gc` taken from a fresh context.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"

let gc: (() => void) | undefined

export const collect = (): void => {
  if (gc === undefined) {
    v8.setFlagsFromString("--expose-gc")
    gc = vm.runInNewContext("gc") as () => void
  }
  gc()
}
