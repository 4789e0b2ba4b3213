import { afterAll, beforeAll } from "@effect/vitest"
import { RedisServer } from "./redisServer.js"

/** Starts a server before the tests of the calling file and stops it after them; the getter gives it. */
export const serverForFile = (): () => RedisServer => {
  let server: RedisServer | undefined
  beforeAll(async () => {
    server = await RedisServer.start()
  })
  afterAll(async () => {
    await server?.stop()
  })
  return () => server!
}
