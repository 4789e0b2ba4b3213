import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"

// Records keyed by names that come from the wire (event names, metadata keys). A plain object literal inherits
// `__proto__`, `constructor`, `toString` and friends from Object.prototype, so `record[name] ?? 0` is a function
// for some names, and writing `__proto__` changes the prototype instead of adding a key. These records have no
// prototype: every name is a key like any other, when counted, when written as JSON and when read back.

/** A record with no prototype and no keys. */
export const empty = <A>(): Record<string, A> => Object.create(null) as Record<string, A>

/** The value under a name, only when the record holds it itself (never something inherited). */
export const get = <A>(record: Readonly<Record<string, A>>, name: string): A | undefined =>
  Object.hasOwn(record, name) ? record[name] : undefined

/** A copy of the record, with no prototype whatever the record had. */
export const copy = <A>(record: Readonly<Record<string, A>>): Record<string, A> => {
  // a plain loop over the keys copies a record with no prototype about three times as fast as Object.assign
  const out = empty<A>()
  const names = Object.keys(record)
  for (let i = 0; i < names.length; i++) out[names[i]!] = record[names[i]!]!
  return out
}

/** A copy of the record (with no prototype, whatever the record had) with one more or one changed entry. */
export const set = <A>(record: Readonly<Record<string, A>>, name: string, value: A): Record<string, A> => {
  const out = copy(record)
  out[name] = value
  return out
}

const entries = <A>(
  input: unknown,
  ast: AST.AST,
  convert: (value: unknown) => Either.Either<A, ParseResult.ParseIssue>
): Either.Either<Record<string, A>, ParseResult.ParseIssue> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Either.left(new ParseResult.Type(ast, input, "Expected an object of named entries"))
  }
  const out = empty<A>()
  for (const [name, value] of Object.entries(input)) {
    const converted = convert(value)
    if (Either.isLeft(converted)) {
      return Either.left(new ParseResult.Composite(ast, input, new ParseResult.Pointer(name, input, converted.left)))
    }
    out[name] = converted.right
  }
  return Either.right(out)
}

/**
 * The schema of a JSON object whose values follow `value`, decoded into a record with no prototype. Unlike
 * `Schema.Record`, it keeps a `__proto__` key (JSON.parse makes it an own property; `Schema.Record` drops it).
 */
export const schema = <A, I>(
  value: Schema.Schema<A, I, never>
): Schema.Schema<Readonly<Record<string, A>>, Readonly<Record<string, I>>> =>
  Schema.declare([value], {
    decode: (item) => (input, options, ast) =>
      entries(input, ast, (v) => ParseResult.decodeUnknownEither(item)(v, options)),
    encode: (item) => (input, options, ast) =>
      entries(input, ast, (v) => ParseResult.encodeUnknownEither(item)(v, options))
  }, { description: "an object of named entries" })
