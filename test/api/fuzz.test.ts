/**
 * Hostile requests over every route, generated: whatever arrives, lateview never answers 5xx;
 * every 4xx is a problem document with an LV_ERR_ code; a refused request writes nothing; and the
 * store still passes `verify` afterwards. Both engines.
 */
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { buildApp } from '../../src/api/app.js'
import { ManualClock } from '../../src/domain/clock.js'
import { Lateview } from '../../src/services/lateview.js'
import { loadViewFiles } from '../../src/services/view-files.js'
import type { Engine } from '../../src/store/engine.js'
import { engines } from '../helpers/engines.js'
import { NOW, VIEWS_DIR } from './harness.js'

const RUNS = Number(process.env.LATEVIEW_FUZZ_RUNS ?? 2000)

/** Texts meant to break things: encodings, control characters, lone surrogates, sizes, numbers. */
const nasty = fc.constantFrom(
  '',
  ' ',
  '%ZZ',
  '%',
  '%00',
  '%ud800',
  '..',
  '../../etc/passwd',
  'a\u0000b',
  'lone\ud800',
  '\udc00',
  '\n',
  '\r\n',
  'Infinity',
  '-Infinity',
  'NaN',
  '-1',
  '0',
  '1e3',
  '0x10',
  '1.5',
  '99999999999999999999',
  '9007199254740993',
  '0000-01-01',
  '9999-12-31',
  '2026-13-45',
  '2026-02-30',
  '2026-W99',
  '2026-11-25T24',
  '2026-11-26',
  '2026-11-26T12',
  '2026-11',
  '2026-W48',
  'P7D',
  'P-1D',
  'PT0S',
  'P99999999Y',
  '2026-11-26T12:00:00Z',
  '0001-01-01T00:00:00Z',
  '2026-11-26T12:00:00',
  'asOf:2026-11-26T12:00:00Z',
  'asOf:garbage',
  'true',
  'null',
  '{}',
  '[]',
  'daily_revenue',
  'daily_positive_tests',
  'x'.repeat(5000),
  '\u{1F600}',
  'é',
  '<script>',
  "' or 1=1 --",
)
const word = fc.oneof(nasty, fc.string({ maxLength: 12 }))
const segment = fc.oneof(nasty, fc.string({ maxLength: 12 }), fc.constantFrom('daily_revenue', 'daily_positive_tests', '2026-11-26', 'store-001', 'a'))

/** A JSON value of any shape, with hostile leaves. */
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    word,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(word, tie('value'), { maxKeys: 4 }),
  ),
})).value

/** Events that are nearly right: the fields lateview knows, some wrong, some hostile. */
const eventish = fc.record(
  {
    id: fc.oneof(word, fc.constant('ev-1'), fc.integer()),
    source: fc.oneof(word, fc.constant('store-001')),
    type: fc.oneof(fc.constantFrom('sale', 'refund', 'test_result'), word),
    occurredAt: fc.oneof(fc.constantFrom('2026-11-26T10:00:00+08:00', '2026-11-26T10:00:00.999999999+0000', '0001-01-01T00:00:00Z'), word),
    data: fc.oneof(json, fc.record({ store: fc.oneof(word, fc.constant('001')), channel: fc.constant('pos'), amount: fc.oneof(fc.double(), fc.integer(), word, json) })),
    retracts: word,
    receivedAt: word,
    extra: json,
  },
  { requiredKeys: [] },
)

const deep = (n: number) => `{"id":"deep","source":"s","type":"sale","occurredAt":"2026-11-26T10:00:00Z","data":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`
const rawBody = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '[',
    'null',
    '"text"',
    '{"__proto__":{"polluted":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
    deep(5000),
    '[1,2,3]',
    '{"a":99999999999999999999}',
    '\u0000',
    '{"id":"x"}\n{"id":',
  ),
  json.map((v) => JSON.stringify(v) ?? 'null'),
  fc.array(eventish, { maxLength: 4 }).map((v) => JSON.stringify(v)),
  eventish.map((v) => JSON.stringify(v)),
)
const contentType = fc.constantFrom(
  'application/json',
  'application/x-ndjson',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
  'text/plain',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  '',
)

const paths = [
  (_: string[]) => `/v1/events`,
  (s: string[]) => `/v1/events/${s[0]}/${s[1]}`,
  (_: string[]) => `/v1/views`,
  (s: string[]) => `/v1/views/${s[0]}`,
  (s: string[]) => `/v1/views/${s[0]}/versions`,
  (s: string[]) => `/v1/views/${s[0]}/realtime`,
  (s: string[]) => `/v1/views/${s[0]}/periods/${s[1]}`,
  (s: string[]) => `/v1/views/${s[0]}/periods/${s[1]}/revisions`,
  (s: string[]) => `/v1/views/${s[0]}/periods/${s[1]}/diff`,
  (s: string[]) => `/v1/views/${s[0]}/periods/${s[1]}/exceptions`,
  (s: string[]) => `/v1/views/${s[0]}/periods/${s[1]}/restate`,
  (s: string[]) => `/v1/jobs/${s[0]}`,
  (_: string[]) => `/v1/jobs/runs`,
  (_: string[]) => `/v1/alerts`,
  (_: string[]) => `/v1/sources`,
  (_: string[]) => `/v1/webhooks`,
  (s: string[]) => `/v1/webhooks/${s[0]}`,
  (s: string[]) => `/v1/webhooks/${s[0]}/deliveries`,
  (s: string[]) => `/v1/webhooks/${s[0]}/deliveries/${s[1]}/retry`,
  (_: string[]) => `/healthz`,
  (_: string[]) => `/readyz`,
  (_: string[]) => `/metrics`,
  (s: string[]) => `/ui/${s[0]}`,
  (s: string[]) => `/${s[0]}`,
]
const params = fc.dictionary(
  fc.constantFrom('limit', 'asOf', 'revision', 'format', 'from', 'to', 'since', 'window', 'kind', 'status', 'view', 'job', 'period', 'import', 'store', 'channel', 'x'),
  word,
  { maxKeys: 3 },
)

/** Percent-encodes text; a lone surrogate becomes the three bytes it would take (invalid UTF-8, as an attacker would send). */
function percent(text: string): string {
  try {
    return encodeURIComponent(text)
  } catch {
    return [...text]
      .map((ch) => {
        const c = ch.charCodeAt(0)
        if (ch.length > 1 || c < 0xd800 || c > 0xdfff) return encodeURIComponent(ch)
        return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('')
      })
      .join('')
  }
}

/** Puts text into a URL percent-encoded, or as it is (then the URL itself may be what is wrong). */
const inPath = (text: string, raw: boolean) => (raw ? text : percent(text))

const requestArb = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'),
  path: fc.nat({ max: paths.length - 1 }),
  segments: fc.tuple(segment, segment),
  raw: fc.boolean(),
  params,
  body: fc.option(rawBody, { nil: undefined }),
  contentType,
})

for (const factory of await engines()) {
  const test = suite(`api fuzz (${factory.name})`)

  test.after(async () => {
    await factory.cleanup()
  })

  async function counts(engine: Engine): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const table of ['events', 'cells', 'revisions', 'alerts', 'webhooks', 'deliveries', 'job_runs', 'periods'] as const) {
      const row = await engine.db.kysely
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
      out[table] = Number(row.n)
    }
    return out
  }

  test(`${RUNS} generated requests over every route: no 5xx, every 4xx a problem document, nothing written when refused`, async () => {
    const engine = await factory.open()
    let app: FastifyInstance | null = null
    try {
      const clock = new ManualClock(NOW)
      const lateview = await Lateview.fromEngine(engine, loadViewFiles(VIEWS_DIR), clock)
      app = await buildApp({ tokens: null, logLevel: 'silent', simulatedClock: true }, { lateview })
      // Something to read: sales of a day, a closed period, a webhook.
      await lateview.ingest([
        { id: 'a', source: 'store-001', type: 'sale', occurredAt: '2026-11-25T10:00:00+08:00', data: { store: '001', channel: 'pos', amount: 10 } },
        { id: 'b', source: 'store-002', type: 'sale', occurredAt: '2026-11-26T10:00:00+08:00', data: { store: '002', channel: 'pos', amount: 5 } },
      ])
      await lateview.jobs.run('close', { view: 'daily_revenue', period: '2026-11-25', trigger: 'manual' })
      const served = app
      const seen = new Map<number, number>()
      await fc.assert(
        fc.asyncProperty(requestArb, async (r) => {
          const url = paths[r.path]?.(r.segments.map((s) => inPath(s, r.raw))) as string
          const query = Object.entries(r.params)
            .map(([k, v]) => `${k}=${inPath(v, r.raw)}`)
            .join('&')
          const before = await counts(engine)
          let res: Awaited<ReturnType<typeof served.inject>>
          try {
            res = await served.inject({
              method: r.method as 'GET',
              url: query ? `${url}?${query}` : url,
              ...(r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD' ? { payload: r.body, headers: r.contentType ? { 'content-type': r.contentType } : {} } : {}),
            })
          } catch (error) {
            // A URL the client cannot even form (`/\` with a raw backslash) never reaches the server.
            if ((error as { code?: string }).code === 'ERR_INVALID_URL') return
            throw error
          }
          seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1)
          const label = `${r.method} ${url}?${query} ${r.contentType} ${String(r.body).slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 300)}`
          assert.ok(res.statusCode < 500, label)
          if (res.statusCode >= 400 && r.method !== 'HEAD') {
            assert.match(String(res.headers['content-type']), /^application\/problem\+json/, label)
            const problem = res.json() as { code?: string; status?: number; type?: string }
            assert.match(String(problem.code), /^LV_ERR_[A-Z_]+$/, label)
            assert.is(problem.status, res.statusCode, label)
            assert.is(problem.type, `urn:lateview:problem:${problem.code}`, label)
            assert.equal(await counts(engine), before, `${label}: a refused request wrote`)
          }
        }),
        { numRuns: RUNS },
      )
      // The generator reached the codes it is meant to reach.
      assert.ok((seen.get(400) ?? 0) > 0 && (seen.get(404) ?? 0) > 0 && (seen.get(200) ?? 0) > 0, JSON.stringify([...seen]))
      const { realtime, revisions } = await lateview.verifyStore()
      assert.equal([realtime.differences, revisions.differences], [[], []])
    } finally {
      await app?.close()
      await engine.close()
    }
  })

  test.run()
}
