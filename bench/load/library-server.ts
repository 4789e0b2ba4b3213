/**
 * The library path of the load benchmark: `RecallServer` with a consumer that reads every event of every session
 * from the flat `events` Stream and counts the Recall messages, as a user's own pipeline would start.
 *
 *   LOAD_TOKEN=s3cret npx tsx bench/load/library-server.ts
 *
 * `LOAD_SERVER_MODULE` names the module to load `RecallServer` from (default `@callstream/server`).
 *
 * It prints the URL it listens on; on SIGTERM it shuts the server down gracefully (connections closed with 1001,
 * every accepted event delivered), waits for the consumer to read the last one, prints its counts as one
 * `LOAD_RESULT {...}` line and exits.
 */
import type * as Server from "@callstream/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { RESULT_PREFIX, type ServerCounts } from "./protocol.js"

const main = async () => {
  const token = process.env.LOAD_TOKEN
  if (token === undefined || token === "") throw new Error("LOAD_TOKEN is required")
  // the harness may point at another version of the packages (`--ref`): load the server from where it says
  const { RecallServer }: typeof Server = await import(process.env.LOAD_SERVER_MODULE ?? "@callstream/server")
  const scope = Effect.runSync(Scope.make())
  const layer = RecallServer.layer({ host: "127.0.0.1", port: 0, tokens: [Redacted.make(token)] })
  const server = Context.get(await Effect.runPromise(Layer.buildWithScope(layer, scope)), RecallServer.RecallServer)
  let messages = 0
  let events = 0
  let decodeFailures = 0
  const consumer = Effect.runFork(
    server.events.pipe(
      Stream.runForEachChunk((chunk) =>
        Effect.sync(() => {
          for (const item of chunk) {
            events++
            if (item._tag === "Message") messages++
            else if (item._tag === "DecodeFailed") decodeFailures++
          }
        })
      )
    )
  )
  console.log(`RecallServer with a consumer listening on ${server.address.url}`)
  process.once("SIGTERM", async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await Effect.runPromise(Fiber.join(consumer))
    const counts: ServerCounts = { messages, events, decodeFailures }
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(counts)}\n`, () => process.exit(0))
  })
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
