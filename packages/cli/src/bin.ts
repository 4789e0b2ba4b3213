/**
 * The `callstream` executable.
 *
 * @since 0.1.0
 */
import * as TurnScheduler from "@callstream/server/TurnScheduler"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Cli from "./Cli.js"

const exitWith = (code: number) => Effect.sync(() => (process.exitCode = code))

Cli.run(process.argv).pipe(
  Effect.catchAll((error) =>
    // @effect/cli has printed the usage problem already; everything else gets one clear line
    ValidationError.isValidationError(error)
      ? exitWith(2)
      : Console.error(`callstream: ${error instanceof Error ? error.message : String(error)}`).pipe(
        Effect.zipRight(exitWith(Predicate.isTagged(error, "SettingsError") ? 2 : 1))
      )
  ),
  // each command provides its console (the logger); see Cli
  Effect.provide(NodeContext.layer),
  // fibers yield to the event loop every few milliseconds, so a busy server still accepts new connections
  Effect.withScheduler(TurnScheduler.make()),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
