/**
 * Compiles programs of a checkout into one JavaScript module each, to run on plain Node as an installed package
 * does: the workspace packages (`@callstream/*`) are bundled from their TypeScript sources through the checkout's
 * `tsconfig.json` paths; every other package stays an import, resolved from `node_modules` at run time, so `outdir`
 * must lie inside the checkout. A program starts in a fraction of a second, where tsx transpiles for seconds and
 * carries its loader (a V8 isolate of its own) in every process and thread.
 *
 * Used by the load benchmark (`bench/load/compile.ts`) and by the tests that run the `callstream` command as a
 * child process (`test/bundle.setup.ts`).
 */
import * as esbuild from "esbuild"
import * as Path from "node:path"

/**
 * The `callstream` command of the checkout at `root`: `callstream.mjs` and, beside it, the recorder thread's entry
 * (`recorderWorker.mjs`), which `serve` starts from beside itself.
 */
export const commandEntries = (root: string): { readonly callstream: string; readonly recorderWorker: string } => ({
  callstream: Path.join(root, "packages/cli/src/bin.ts"),
  recorderWorker: Path.join(root, "packages/cli/src/internal/recorderWorker.ts")
})

/** Compiles each of `entries` (output name -> source file) into `outdir/<name>.mjs`. */
export const bundle = async (options: {
  /** The checkout: its `tsconfig.json` maps the workspace packages to their sources. */
  readonly root: string
  readonly entries: Record<string, string>
  readonly outdir: string
}): Promise<void> => {
  await esbuild.build({
    entryPoints: options.entries,
    outdir: options.outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: false,
    platform: "node",
    format: "esm",
    target: "node20",
    tsconfig: Path.join(options.root, "tsconfig.json"),
    logLevel: "error",
    plugins: [{
      // only the workspace packages are bundled; everything else is imported from node_modules at run time
      name: "external-packages",
      setup: (build) => {
        build.onResolve(
          { filter: /^[^./]/ },
          (args) => args.path.startsWith("@callstream/") ? undefined : { path: args.path, external: true }
        )
      }
    }]
  })
}
