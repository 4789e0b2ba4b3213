/**
 * The README's first pipeline: print every final utterance of a source. Here the source is a list of decoded
 * messages; in production it is the websocket server.
 *
 *   npx tsx examples/first-pipeline.ts
 */
import { Decoder, EventSource, EventStream, Fixtures } from "@callstream/core"
import { Effect, Either, Stream } from "effect"

const ada = Fixtures.participant({ id: 100, name: "Ada" })

// Any EventSource works here: the websocket server in production, a tape or a list in tests.
const program = Effect.gen(function*() {
  const source = yield* EventSource.EventSource
  yield* source.events.pipe(
    EventStream.filterMessages("transcript.data"),
    Stream.runForEach(({ event }) =>
      Effect.log(`${event.data.data.participant.name}: ${event.data.data.words.map((w) => w.text).join(" ")}`)
    )
  )
})

const decoded = [
  Fixtures.transcript("hello everyone", { participant: ada, at: 1 }),
  Fixtures.transcript("let us start", { participant: ada, at: 3 })
].map((message) => Decoder.decodeEither(JSON.stringify(message)).pipe(Either.getOrThrow))

Effect.runPromise(program.pipe(Effect.provide(EventSource.fromIterable(decoded))))
