import * as Data from "effect/Data"

/**
 * A setting that cannot work, with a message a person can act on. The command exits with code 2 on it.
 *
 * @internal
 */
export class SettingsError extends Data.TaggedError("SettingsError")<{
  readonly reason:
    | "InvalidPort"
    | "PortInUse"
    | "InvalidPath"
    | "InvalidSecret"
    | "InvalidNumber"
    | "OutputNotWritable"
    | "InvalidRedisUrl"
    | "RedisUnreachable"
    | "InvalidUrl"
    | "ConflictingFlags"
  readonly message: string
}> {}
