/**
 * Compiles a Schema's type-side AST into a plain JavaScript predicate: the hot-path check for websocket frames.
 *
 * Effect's generic parser builds a new output value and a result wrapper at every node, which costs more than
 * `JSON.parse` itself on a typical Recall message. The schemas of Recall events have no transformations, so a
 * valid input already IS the decoded value: checking it is enough. The check is generated as straight-line source
 * (one small function per struct, array or record) so the engine sees monomorphic code instead of a tree of
 * closures. It accepts exactly what `Schema.is` accepts (a property test holds the two together on arbitrary and
 * damaged inputs); refinements run their own filter, and any AST node not compiled here is delegated to
 * `Schema.is` for that node.
 *
 * @internal
 */
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as SchemaAST from "effect/SchemaAST"

/** @internal */
export type Guard = (input: unknown) => boolean

const parseOptions: SchemaAST.ParseOptions = {}

class Generator {
  readonly functions: Array<string> = []
  readonly externals: Array<(u: unknown) => boolean> = []
  private readonly named = new Map<SchemaAST.AST, string>()

  /** A predicate kept as a function value (refinement filters, delegated nodes). */
  external(check: (u: unknown) => boolean): string {
    this.externals.push(check)
    return `x[${this.externals.length - 1}]`
  }

  /** A generated function for a node, made once per node (suspended schemas may refer to themselves). */
  function(ast: SchemaAST.AST, body: (v: string) => string): string {
    const known = this.named.get(ast)
    if (known !== undefined) return known
    const name = `f${this.named.size}`
    this.named.set(ast, name)
    this.functions.push(`function ${name}(v) {\n${body("v")}\n}`)
    return name
  }

  /** A boolean expression that checks the value `v` (a variable name) against `ast`. */
  expression(ast: SchemaAST.AST, v: string): string {
    switch (ast._tag) {
      case "StringKeyword":
        return `typeof ${v} === "string"`
      case "NumberKeyword":
        return `typeof ${v} === "number"`
      case "BooleanKeyword":
        return `typeof ${v} === "boolean"`
      case "UnknownKeyword":
      case "AnyKeyword":
        return "true"
      case "UndefinedKeyword":
      case "VoidKeyword":
        return `${v} === undefined`
      case "NeverKeyword":
        return "false"
      case "Literal":
        if (typeof ast.literal === "bigint") return this.delegate(ast, v)
        return `${v} === ${ast.literal === null ? "null" : JSON.stringify(ast.literal)}`
      case "Refinement": {
        const filter = this.external((u) => Option.isNone(ast.filter(u, parseOptions, ast)))
        return `(${this.expression(ast.from, v)}) && ${filter}(${v})`
      }
      case "Transformation":
        return this.expression(ast.to, v)
      case "Suspend": {
        const target = ast.f()
        return `${this.function(target, (w) => `return ${this.expression(target, w)}`)}(${v})`
      }
      case "Union":
        return ast.types.map((member) => `(${this.expression(member, v)})`).join(" || ")
      case "TupleType":
        if (ast.elements.some((e) => e.isOptional) || ast.rest.length > 1) return this.delegate(ast, v)
        return `${this.function(ast, (w) => this.tuple(ast, w))}(${v})`
      case "TypeLiteral":
        if (ast.indexSignatures.some((s) => s.parameter._tag !== "StringKeyword")) return this.delegate(ast, v)
        if (ast.propertySignatures.some((p) => typeof p.name !== "string")) return this.delegate(ast, v)
        if (ast.indexSignatures.length > 0 && ast.propertySignatures.length > 0) return this.delegate(ast, v)
        // Effect's parser takes an empty struct from anything not nullish, and a non-empty struct or a record
        // from a non-null, non-array object
        if (ast.indexSignatures.length === 0 && ast.propertySignatures.length === 0) return `${v} != null`
        return `${this.function(ast, (w) => this.struct(ast, w))}(${v})`
      default:
        return this.delegate(ast, v)
    }
  }

  private delegate(ast: SchemaAST.AST, v: string): string {
    return `${this.external(ParseResult.is({ ast } as any))}(${v})`
  }

  private tuple(ast: SchemaAST.TupleType, v: string): string {
    const lines = [`if (!Array.isArray(${v})) return false`]
    const count = ast.elements.length
    lines.push(
      ast.rest.length === 1
        ? `if (${v}.length < ${count}) return false`
        : `if (${v}.length !== ${count}) return false`
    )
    ast.elements.forEach((element, i) =>
      lines.push(`if (!(${this.expression(element.type, `${v}[${i}]`)})) return false`)
    )
    if (ast.rest.length === 1) {
      lines.push(
        `for (let i = ${count}; i < ${v}.length; i++) { const e = ${v}[i]; if (!(${
          this.expression(ast.rest[0]!.type, "e")
        })) return false }`
      )
    }
    lines.push("return true")
    return lines.join("\n")
  }

  private struct(ast: SchemaAST.TypeLiteral, v: string): string {
    const lines = [`if (typeof ${v} !== "object" || ${v} === null || Array.isArray(${v})) return false`]
    ast.propertySignatures.forEach((p, i) => {
      const key = JSON.stringify(p.name)
      const check = this.expression(p.type, `p${i}`)
      lines.push(
        p.isOptional
          ? `if (hasOwn.call(${v}, ${key})) { const p${i} = ${v}[${key}]; if (!(${check})) return false }`
          : `{ const p${i} = ${v}[${key}]; if (!(${check})) return false }`
      )
    })
    if (ast.indexSignatures.length > 0) {
      // for..in with an own-key check walks the keys without allocating an array of them
      const checks = ast.indexSignatures.map((s) => `(${this.expression(s.type, "e")})`).join(" && ")
      lines.push(
        `for (const k in ${v}) { if (!hasOwn.call(${v}, k)) continue; const e = ${v}[k]; if (!(${checks})) return false }`
      )
    }
    lines.push("return true")
    return lines.join("\n")
  }
}

/** @internal */
export const compile = (ast: SchemaAST.AST): Guard => {
  const generator = new Generator()
  const root = generator.expression(ast, "input")
  const source = `"use strict"\n${generator.functions.join("\n")}\nreturn function guard(input) { return ${root} }`
  return new Function("x", "hasOwn", source)(generator.externals, Object.prototype.hasOwnProperty) as Guard
}
