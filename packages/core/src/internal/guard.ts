/**
 * Compiles a Schema's type-side AST into a plain JavaScript predicate: the hot-path check for websocket frames.
 *
 * Effect's generic parser builds a new output value and a result wrapper at every node, which costs more than
 * `JSON.parse` itself on a typical Recall message. The schemas of Recall events have no transformations, so a
 * valid input already IS the decoded value: checking it is enough. The predicate accepts exactly what
 * `Schema.is` accepts (a test holds the two together on arbitrary and mutated inputs); any AST node it does not
 * compile is delegated to `Schema.is` for that node.
 *
 * @internal
 */
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as SchemaAST from "effect/SchemaAST"

/** @internal */
export type Guard = (input: unknown) => boolean

const parseOptions: SchemaAST.ParseOptions = {}

// Effect's parser takes a non-empty struct or record from a non-null, non-array object
const isRecord = (u: unknown): u is Record<PropertyKey, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const delegate = (ast: SchemaAST.AST): Guard => ParseResult.is({ ast } as any)

/** @internal */
export const compile = (ast: SchemaAST.AST): Guard => {
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => typeof u === "string"
    case "NumberKeyword":
      return (u) => typeof u === "number"
    case "BooleanKeyword":
      return (u) => typeof u === "boolean"
    case "UnknownKeyword":
    case "AnyKeyword":
      return () => true
    case "UndefinedKeyword":
    case "VoidKeyword":
      return (u) => u === undefined
    case "NeverKeyword":
      return () => false
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal
    }
    case "Refinement": {
      const from = compile(ast.from)
      return (u) => from(u) && Option.isNone(ast.filter(u, parseOptions, ast))
    }
    case "Suspend": {
      let memo: Guard | undefined
      return (u) => (memo ??= compile(ast.f()))(u)
    }
    case "Transformation":
      return compile(ast.to)
    case "Union": {
      const members = ast.types.map(compile)
      if (members.length === 2) {
        const [a, b] = members as [Guard, Guard]
        return (u) => a(u) || b(u)
      }
      return (u) => {
        for (let i = 0; i < members.length; i++) if (members[i]!(u)) return true
        return false
      }
    }
    case "TupleType": {
      if (ast.elements.some((e) => e.isOptional) || ast.rest.length > 1) return delegate(ast)
      const elements = ast.elements.map((e) => compile(e.type))
      const rest = ast.rest.length === 1 ? compile(ast.rest[0]!.type) : undefined
      return (u) => {
        if (!Array.isArray(u)) return false
        if (u.length < elements.length || (rest === undefined && u.length > elements.length)) return false
        for (let i = 0; i < elements.length; i++) if (!elements[i]!(u[i])) return false
        if (rest !== undefined) { for (let i = elements.length; i < u.length; i++) if (!rest(u[i])) return false }
        return true
      }
    }
    case "TypeLiteral": {
      if (ast.indexSignatures.some((s) => s.parameter._tag !== "StringKeyword")) return delegate(ast)
      if (ast.indexSignatures.length > 0 && ast.propertySignatures.length > 0) return delegate(ast)
      if (ast.indexSignatures.length === 0 && ast.propertySignatures.length === 0) return (u) => u != null
      const props = ast.propertySignatures.map((p) => ({
        name: p.name,
        optional: p.isOptional,
        check: compile(p.type)
      }))
      const index = ast.indexSignatures.map((s) => compile(s.type))
      return (u) => {
        if (!isRecord(u)) return false
        for (let i = 0; i < props.length; i++) {
          const p = props[i]!
          if (p.optional && !Object.prototype.hasOwnProperty.call(u, p.name)) continue
          if (!p.check(u[p.name])) return false
        }
        if (index.length > 0) {
          for (const key of Object.keys(u)) {
            const value = u[key]
            for (let i = 0; i < index.length; i++) if (!index[i]!(value)) return false
          }
        }
        return true
      }
    }
    default:
      return delegate(ast)
  }
}
