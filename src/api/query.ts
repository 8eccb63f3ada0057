/**
 * How many rows a list answers: 1 to 1000 written as plain digits. Declared as a string on
 * purpose: ajv's coercion of an integer parameter takes `Infinity`, `0x10` and `1e3`.
 */
export const LIMIT = { type: 'string', pattern: '^(?:[1-9][0-9]{0,2}|1000)$', description: 'how many rows, 1 to 1000 (default 100)' } as const

/** The row count of a validated `limit` parameter. */
export function limitOf(text: string | undefined, fallback = 100): number {
  return text === undefined ? fallback : Number(text)
}
