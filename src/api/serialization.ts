/**
 * How answers are written. Every JSON answer goes through `toJson` (domain/decimal.ts), which
 * writes exact decimals, bigints and numbers without an exponent, unless its schema proves that
 * fast-json-stringify writes the same text faster: a fixed shape. fast-json-stringify drops
 * members its schema does not list and coerces values to the declared types, and writes a number
 * with an exponent where toJson does not; so a schema is used only when every object in it is
 * closed (`additionalProperties: false`) and every value is a string, an integer, a boolean or
 * null. Answers holding figures, data or free-form members (reports, events, alerts, measures)
 * are toJson's. test/api/openapi.test.ts holds the two to the same text on every route.
 */
import type { FastifyReply, FastifyRequest, FastifySchema, FastifySerializerCompiler, RouteOptions } from 'fastify'
import fastJsonStringify from 'fast-json-stringify'
import { toJson } from '../domain/decimal.js'
import type { JsonSchema } from './schemas.js'

type Serialize = (payload: unknown) => string

/** The serializers built from a fixed-shape schema (the others are `toJson` itself). */
const fromSchema = new WeakSet<Serialize>()

const SCALARS = new Set(['string', 'integer', 'boolean', 'null'])
/** Keywords that only constrain or describe a value: fast-json-stringify ignores them, and so may this check. */
const ANNOTATIONS = new Set(['type', 'description', 'format', 'enum', 'minLength', 'maxLength', 'minimum', 'maximum', 'title', 'required', 'properties', 'additionalProperties', 'items', '$id'])

/**
 * Whether fast-json-stringify writes exactly what toJson writes for every value that `schema`
 * accepts: closed objects, arrays of such, strings, integers, booleans and null, nothing else.
 */
export function isFixedShape(schema: unknown, shared: Readonly<Record<string, JsonSchema>>, seen: ReadonlySet<string> = new Set()): boolean {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return false
  const s = schema as JsonSchema
  if (typeof s.$ref === 'string') {
    if (Object.keys(s).length !== 1) return false
    const id = s.$ref.endsWith('#') ? s.$ref.slice(0, -1) : s.$ref
    const target = shared[id]
    return target !== undefined && !seen.has(id) && isFixedShape(target, shared, new Set([...seen, id]))
  }
  if (Object.keys(s).some((key) => !ANNOTATIONS.has(key))) return false
  const types = Array.isArray(s.type) ? s.type : [s.type]
  if (types.length === 0) return false
  for (const type of types) {
    if (type === 'object') {
      if (s.additionalProperties !== false) return false
      const properties = (s.properties ?? {}) as Record<string, unknown>
      if (!Object.values(properties).every((p) => isFixedShape(p, shared, seen))) return false
    } else if (type === 'array') {
      if (!isFixedShape(s.items, shared, seen)) return false
    } else if (!SCALARS.has(type as string)) return false
  }
  return true
}

/**
 * The serializer compiler of the app: fast-json-stringify for a fixed-shape schema, toJson for
 * every other. `external` holds the schemas added with `addSchema`, by `$id`.
 */
export function serializerCompiler(external: Readonly<Record<string, JsonSchema>>): FastifySerializerCompiler<unknown> {
  // Compiled once per schema, whatever the number of apps built (each test builds its own).
  const compiled = new Map<string, Serialize>()
  let plain: Record<string, unknown> | undefined
  return ({ schema }) => {
    if (!isFixedShape(schema, external)) return toJson
    const key = JSON.stringify(schema)
    let serialize = compiled.get(key)
    if (serialize === undefined) {
      // fast-json-stringify writes a string of `format: date-time` as it is, unescaped (a control
      // character would make the JSON invalid): without its formats, every string is escaped.
      plain ??= Object.fromEntries(Object.entries(external).map(([id, s]) => [id, withoutFormats(s)]))
      serialize = fastJsonStringify(withoutFormats(schema) as object, { schema: plain as Record<string, never> }) as Serialize
      fromSchema.add(serialize)
      compiled.set(key, serialize)
    }
    return serialize
  }
}

/** A schema without its `format` keywords. */
function withoutFormats(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutFormats)
  if (typeof schema !== 'object' || schema === null) return schema
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key, value]) => !(key === 'format' && typeof value === 'string'))
      .map(([key, value]) => [key, key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, withoutFormats(v)])) : withoutFormats(value)]),
  )
}

/** Whether a route documents an answer whose schema has a fixed shape. */
function hasFixedShape(schema: FastifySchema | undefined, shared: Readonly<Record<string, JsonSchema>>): boolean {
  const responses = (schema?.response ?? {}) as Record<string, { content?: Record<string, { schema: unknown }> }>
  return Object.values(responses).some((response) => Object.values(response.content ?? {}).some((media) => isFixedShape(media.schema, shared)))
}

/**
 * The app's reply serializer (toJson) comes before a route's schema serializers in fastify: a
 * route with a fixed-shape answer is given a hook that hands each such answer to its schema's
 * serializer instead. Every other answer is still toJson's.
 */
export function useSchemaSerializers(route: RouteOptions, shared: Readonly<Record<string, JsonSchema>>): void {
  if (!hasFixedShape(route.schema, shared)) return
  const hooks = route.preSerialization === undefined ? [] : Array.isArray(route.preSerialization) ? route.preSerialization : [route.preSerialization]
  route.preSerialization = [...hooks, bySchema] as RouteOptions['preSerialization']
}

async function bySchema(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  const type = String(reply.getHeader('content-type') ?? 'application/json').split(';', 1)[0] as string
  const serialize = reply.getSerializationFunction(String(reply.statusCode), type) as Serialize | undefined
  if (serialize !== undefined && fromSchema.has(serialize)) reply.serializer(serialize)
  return payload
}
