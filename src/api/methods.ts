/**
 * The methods each route path takes, for a request that matches a path but not its method:
 * 405 with `Allow` (RFC 9110, section 15.5.6), not 404. Fastify's router answers "not found"
 * for both; this keeps the registered paths as patterns (`:param` one segment, `*` the rest).
 */
export class RouteMethods {
  readonly #routes: Array<{ pattern: RegExp; methods: Set<string> }> = []
  readonly #byUrl = new Map<string, Set<string>>()

  add(url: string, method: string | string[]): void {
    let methods = this.#byUrl.get(url)
    if (!methods) {
      methods = new Set()
      this.#byUrl.set(url, methods)
      this.#routes.push({ pattern: patternOf(url), methods })
    }
    for (const m of Array.isArray(method) ? method : [method]) methods.add(m.toUpperCase())
  }

  /** The methods the routes matching `path` take, sorted; empty when no route has the path. */
  allowed(path: string): string[] {
    const found = new Set<string>()
    for (const route of this.#routes) if (route.pattern.test(path)) for (const m of route.methods) found.add(m)
    return [...found].sort()
  }
}

function patternOf(url: string): RegExp {
  const parts = url.split('/').map((segment) => {
    if (segment === '*') return '.*'
    if (segment.startsWith(':')) return '[^/]+'
    return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  })
  return new RegExp(`^${parts.join('/')}/?$`)
}
