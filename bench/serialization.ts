/**
 * How much faster the fixed-shape answers are written by their schema (fast-json-stringify, see
 * src/api/serialization.ts) than by toJson, which writes every other answer: per answer, in µs,
 * for the shapes that are served so (health, readiness, webhooks) at a few sizes. Each pair is
 * first checked to write the same text.
 *
 *   node --import tsx bench/serialization.ts [--ms 500]
 */
import { SHARED_SCHEMAS } from '../src/api/schemas.js'
import { serializerCompiler } from '../src/api/serialization.js'
import { toJson } from '../src/domain/decimal.js'

const msIndex = process.argv.indexOf('--ms')
const BUDGET_MS = msIndex > 0 ? Number(process.argv[msIndex + 1]) : 500

const compile = serializerCompiler(SHARED_SCHEMAS)
const bySchema = (id: string) => compile({ schema: { $ref: `${id}#` }, method: 'GET', url: '/', httpStatus: '200' }) as (value: unknown) => string

const webhook = (i: number) => ({
  id: `wh_${String(i).padStart(16, '0')}`,
  url: `https://receiver-${i}.example.com/lateview/alerts`,
  kinds: i % 2 === 0 ? null : ['DelayedEvent', 'LateAfterClose'],
  createdAt: '2026-11-26T12:00:00.000Z',
  status: i % 7 === 0 ? 'disabled' : 'active',
  disabledAt: i % 7 === 0 ? '2026-11-27T08:00:00.000Z' : null,
  disabledReason: i % 7 === 0 ? 'receiver answered 410 Gone' : null,
})

const CASES: Array<{ name: string; schema: string; value: unknown }> = [
  { name: 'GET /healthz', schema: 'Health', value: { status: 'ok' } },
  {
    name: 'GET /readyz (replica, broker)',
    schema: 'Readiness',
    value: { status: 'ready', engine: 'postgres', views: 2, replica: { state: 'caught-up', seq: 123456, behind: 0 }, broker: { connected: true, stream: 'LATEVIEW', durable: 'lateview' } },
  },
  { name: 'POST /v1/webhooks', schema: 'CreatedWebhook', value: { ...webhook(1), secret: 'whsec_USRtXd6yf3vs1zuLabykpTwIxxPbKvf8' } },
  ...[10, 100, 1000].map((n) => ({ name: `GET /v1/webhooks (${n})`, schema: 'Webhooks', value: { webhooks: Array.from({ length: n }, (_, i) => webhook(i)) } })),
]

/** µs per call of `fn`, the best of five runs of BUDGET_MS / 5 each. */
function microseconds(fn: () => void): number {
  let best = Number.POSITIVE_INFINITY
  for (let run = 0; run < 5; run++) {
    let calls = 0
    const started = performance.now()
    let elapsed = 0
    while (elapsed < BUDGET_MS / 5) {
      for (let i = 0; i < 100; i++) fn()
      calls += 100
      elapsed = performance.now() - started
    }
    best = Math.min(best, (elapsed * 1000) / calls)
  }
  return best
}

const rows: string[][] = [['answer', 'toJson µs', 'schema µs', 'speed-up']]
for (const c of CASES) {
  const schema = bySchema(c.schema)
  if (schema === toJson) throw new Error(`${c.schema} is not written by its schema`)
  if (schema(c.value) !== toJson(c.value)) throw new Error(`${c.name}: the two write different texts`)
  const plain = microseconds(() => toJson(c.value))
  const fast = microseconds(() => schema(c.value))
  rows.push([c.name, plain.toFixed(3), fast.toFixed(3), `${(plain / fast).toFixed(2)}×`])
}
const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length))) as number[]
for (const row of rows) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  '))
