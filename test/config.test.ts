import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../src/config.js'
import { LateviewError } from '../src/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'lateview-config-'))

/** Writes a tokens file and returns its path. */
function tokensFile(name: string, content: string): string {
  const file = join(dir, name)
  writeFileSync(file, content)
  return file
}

/** Asserts loadConfig throws LV_ERR_CONFIG_INVALID naming `variable`; returns the message. */
function rejects(env: NodeJS.ProcessEnv, variable: string): string {
  try {
    loadConfig(env)
  } catch (error) {
    assert.instance(error, LateviewError)
    const e = error as LateviewError
    assert.is(e.code, 'LV_ERR_CONFIG_INVALID')
    assert.ok(e.message.startsWith(`${variable}: `), `"${e.message}" does not name ${variable}`)
    assert.equal(e.details, { variable })
    return e.message
  }
  assert.unreachable(`expected ${JSON.stringify(env)} to be rejected`)
  return ''
}

const test = suite('config')
test.after(() => rmSync(dir, { recursive: true, force: true }))

test('defaults: an empty environment works', () => {
  assert.equal(loadConfig({}), {
    db: './data/lateview.db',
    readDb: null,
    readWaitMs: 2_000,
    viewsDir: './views',
    host: '127.0.0.1',
    port: 3000,
    tokens: null,
    tokensFile: null,
    insecure: false,
    scheduler: true,
    simulatedClock: false,
    webhookBackoff: [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000],
    webhookTimeoutMs: 15_000,
    logLevel: 'info',
    eventLimits: { maxDataBytes: 262_144, maxStringBytes: 65_536, maxDepth: 32 },
    nats: null,
  })
  // Blank values count as unset.
  assert.equal(loadConfig({ LATEVIEW_DB: ' ', PORT: '', HOST: '', LATEVIEW_SCHEDULER: '' }), loadConfig({}))
})

test('values are read, trimmed and parsed', () => {
  const file = tokensFile('ok.json', JSON.stringify({ 'ingest-token-00000001': ['ingest'], 'admin-token-00000001': ['admin', 'read'] }))
  const config = loadConfig({
    LATEVIEW_DB: 'postgres://lateview@db.internal:5432/lateview',
    LATEVIEW_VIEWS: '/etc/lateview/views',
    HOST: '0.0.0.0',
    PORT: ' 8080 ',
    LATEVIEW_TOKENS: file,
    LATEVIEW_SCHEDULER: 'OFF',
    LATEVIEW_SIMULATED_CLOCK: '1',
    LATEVIEW_WEBHOOK_BACKOFF: '0, 500ms, 5s, PT30M, 1d',
    LATEVIEW_WEBHOOK_TIMEOUT: '2500ms',
    LATEVIEW_LOG_LEVEL: 'warn',
    LATEVIEW_EVENT_MAX_BYTES: '1MiB',
    LATEVIEW_EVENT_MAX_STRING_BYTES: '100000',
  })
  assert.equal(
    { ...config, tokens: null },
    {
      db: 'postgres://lateview@db.internal:5432/lateview',
      readDb: null,
      readWaitMs: 2_000,
      viewsDir: '/etc/lateview/views',
      host: '0.0.0.0',
      port: 8080,
      tokens: null,
      tokensFile: file,
      insecure: false,
      scheduler: false,
      simulatedClock: true,
      webhookBackoff: [0, 500, 5_000, 1_800_000, 86_400_000],
      webhookTimeoutMs: 2_500,
      logLevel: 'warn',
      eventLimits: { maxDataBytes: 1_048_576, maxStringBytes: 100_000, maxDepth: 32 },
      nats: null,
    },
  )
  assert.equal(
    [...(config.tokens ?? [])].map(([token, scopes]) => [token, [...scopes].sort()]),
    [
      ['ingest-token-00000001', ['ingest']],
      ['admin-token-00000001', ['admin', 'read']],
    ],
  )
})

test('the returned config is frozen', () => {
  const config = loadConfig({})
  assert.ok(Object.isFrozen(config))
  assert.ok(Object.isFrozen(config.webhookBackoff))
  assert.throws(() => {
    ;(config as { port: number }).port = 1
  }, TypeError)
  assert.throws(() => {
    ;(config.webhookBackoff as number[]).push(1)
  }, TypeError)
  assert.is(config.port, 3000)
})

test('PORT must be a port number', () => {
  for (const port of ['abc', '70000', '65536', '-1', '3000.5', '30 00', '0x50']) rejects({ PORT: port }, 'PORT')
  assert.is(loadConfig({ PORT: '0' }).port, 0)
  assert.is(loadConfig({ PORT: '65535' }).port, 65535)
})

test('LATEVIEW_SCHEDULER, LATEVIEW_SIMULATED_CLOCK and LATEVIEW_INSECURE take on/off words only', () => {
  rejects({ LATEVIEW_SCHEDULER: 'maybe' }, 'LATEVIEW_SCHEDULER')
  rejects({ LATEVIEW_SCHEDULER: 'no' }, 'LATEVIEW_SCHEDULER')
  rejects({ LATEVIEW_SIMULATED_CLOCK: 'yes' }, 'LATEVIEW_SIMULATED_CLOCK')
  rejects({ LATEVIEW_INSECURE: '2' }, 'LATEVIEW_INSECURE')
  for (const off of ['off', '0', 'false', 'Off']) assert.is(loadConfig({ LATEVIEW_SCHEDULER: off }).scheduler, false, off)
  for (const on of ['on', '1', 'true']) assert.is(loadConfig({ LATEVIEW_SCHEDULER: on }).scheduler, true, on)
})

test('LATEVIEW_WEBHOOK_BACKOFF must be a list of delays, LATEVIEW_WEBHOOK_TIMEOUT one positive delay', () => {
  const message = rejects({ LATEVIEW_WEBHOOK_BACKOFF: '0,5x,1h' }, 'LATEVIEW_WEBHOOK_BACKOFF')
  assert.ok(message.includes('"5x"'), message)
  rejects({ LATEVIEW_WEBHOOK_BACKOFF: '0,,5s' }, 'LATEVIEW_WEBHOOK_BACKOFF')
  rejects({ LATEVIEW_WEBHOOK_BACKOFF: '5 minutes' }, 'LATEVIEW_WEBHOOK_BACKOFF')
  rejects({ LATEVIEW_WEBHOOK_BACKOFF: '-5s' }, 'LATEVIEW_WEBHOOK_BACKOFF')
  rejects({ LATEVIEW_WEBHOOK_TIMEOUT: 'soon' }, 'LATEVIEW_WEBHOOK_TIMEOUT')
  rejects({ LATEVIEW_WEBHOOK_TIMEOUT: '0' }, 'LATEVIEW_WEBHOOK_TIMEOUT')
})

test('LATEVIEW_TOKENS: an unreadable or malformed file is refused', () => {
  rejects({ LATEVIEW_TOKENS: join(dir, 'missing.json') }, 'LATEVIEW_TOKENS')
  rejects({ LATEVIEW_TOKENS: dir }, 'LATEVIEW_TOKENS')
  rejects({ LATEVIEW_TOKENS: tokensFile('malformed.json', '{"ingest-token-00000001": ["ingest"]') }, 'LATEVIEW_TOKENS')
  rejects({ LATEVIEW_TOKENS: tokensFile('array.json', '[["ingest-token-00000001", ["ingest"]]]') }, 'LATEVIEW_TOKENS')
  rejects({ LATEVIEW_TOKENS: tokensFile('null.json', 'null') }, 'LATEVIEW_TOKENS')
})

test('LATEVIEW_TOKENS: a token shorter than 16 characters or an unknown scope is refused', () => {
  const short = rejects({ LATEVIEW_TOKENS: tokensFile('short.json', JSON.stringify({ 'short-token-0001': ['read'], 'too-short-00001': ['read'] })) }, 'LATEVIEW_TOKENS')
  assert.ok(short.includes('shorter than 16 characters'), short)
  // The message never repeats a token.
  assert.not.ok(short.includes('too-short-00001'), short)
  const scope = rejects({ LATEVIEW_TOKENS: tokensFile('scope.json', JSON.stringify({ 'ingest-token-00000001': ['ingest', 'write'] })) }, 'LATEVIEW_TOKENS')
  assert.not.ok(scope.includes('ingest-token-00000001'), scope)
  rejects({ LATEVIEW_TOKENS: tokensFile('empty.json', JSON.stringify({ 'ingest-token-00000001': [] })) }, 'LATEVIEW_TOKENS')
  rejects({ LATEVIEW_TOKENS: tokensFile('string.json', JSON.stringify({ 'ingest-token-00000001': 'ingest' })) }, 'LATEVIEW_TOKENS')
  // Exactly 16 characters is long enough.
  const config = loadConfig({ LATEVIEW_TOKENS: tokensFile('sixteen.json', JSON.stringify({ 'sixteen-chars-00': ['read'] })) })
  assert.equal([...(config.tokens?.keys() ?? [])], ['sixteen-chars-00'])
})

test('a non-loopback HOST needs LATEVIEW_TOKENS or LATEVIEW_INSECURE=1', () => {
  const message = rejects({ HOST: '0.0.0.0' }, 'HOST')
  assert.ok(message.includes('LATEVIEW_INSECURE=1'), message)
  rejects({ HOST: '192.168.1.10' }, 'HOST')
  rejects({ HOST: '::' }, 'HOST')
  const insecure = loadConfig({ HOST: '0.0.0.0', LATEVIEW_INSECURE: '1' })
  assert.equal([insecure.host, insecure.insecure, insecure.tokens], ['0.0.0.0', true, null])
  const file = tokensFile('host.json', JSON.stringify({ 'read-token-000000001': ['read'] }))
  assert.is(loadConfig({ HOST: '0.0.0.0', LATEVIEW_TOKENS: file }).host, '0.0.0.0')
  for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) assert.is(loadConfig({ HOST: host }).host, host)
})

test('LATEVIEW_EVENT_MAX_BYTES and LATEVIEW_EVENT_MAX_STRING_BYTES are sizes, the string limit within the event limit', () => {
  assert.equal(loadConfig({ LATEVIEW_EVENT_MAX_BYTES: '32KiB' }).eventLimits, { maxDataBytes: 32_768, maxStringBytes: 32_768, maxDepth: 32 })
  assert.equal(loadConfig({ LATEVIEW_EVENT_MAX_BYTES: '2MB', LATEVIEW_EVENT_MAX_STRING_BYTES: '2kb' }).eventLimits, { maxDataBytes: 2_000_000, maxStringBytes: 2_000, maxDepth: 32 })
  assert.is(rejects({ LATEVIEW_EVENT_MAX_BYTES: 'lots' }, 'LATEVIEW_EVENT_MAX_BYTES'), 'LATEVIEW_EVENT_MAX_BYTES: "lots" is not a size of at least 1KiB such as 262144, 256KiB or 1MiB')
  rejects({ LATEVIEW_EVENT_MAX_BYTES: '100' }, 'LATEVIEW_EVENT_MAX_BYTES')
  rejects({ LATEVIEW_EVENT_MAX_BYTES: '17MiB' }, 'LATEVIEW_EVENT_MAX_BYTES')
  rejects({ LATEVIEW_EVENT_MAX_BYTES: '64KiB', LATEVIEW_EVENT_MAX_STRING_BYTES: '128KiB' }, 'LATEVIEW_EVENT_MAX_STRING_BYTES')
})

test('LATEVIEW_DB and LATEVIEW_LOG_LEVEL are checked', () => {
  rejects({ LATEVIEW_DB: 'postgres://[not-a-host' }, 'LATEVIEW_DB')
  assert.is(loadConfig({ LATEVIEW_DB: '/var/lib/lateview/store.db' }).db, '/var/lib/lateview/store.db')
  rejects({ LATEVIEW_LOG_LEVEL: 'loud' }, 'LATEVIEW_LOG_LEVEL')
  assert.is(loadConfig({ LATEVIEW_LOG_LEVEL: 'silent' }).logLevel, 'silent')
})

test('LATEVIEW_DB_READ names a replica of a PostgreSQL store, under its schema; LATEVIEW_DB_READ_WAIT bounds the wait', () => {
  const primary = 'postgres://lateview@db.internal:5432/lateview'
  const both = loadConfig({ LATEVIEW_DB: primary, LATEVIEW_DB_READ: ' postgresql://reader@replica.internal:5433/lateview ', LATEVIEW_DB_READ_WAIT: '500ms' })
  assert.is(both.readDb, 'postgresql://reader@replica.internal:5433/lateview')
  assert.is(both.readWaitMs, 500)
  // The replica holds the primary's schema: it is taken over, and another one is refused.
  const withSchema = loadConfig({ LATEVIEW_DB: `${primary}?schema=sales`, LATEVIEW_DB_READ: 'postgres://reader@replica.internal:5433/lateview?sslmode=disable' })
  assert.is(withSchema.readDb, 'postgres://reader@replica.internal:5433/lateview?sslmode=disable&schema=sales')
  assert.is(loadConfig({ LATEVIEW_DB: `${primary}?schema=sales`, LATEVIEW_DB_READ: 'postgres://r@replica/lateview?schema=sales' }).readDb, 'postgres://r@replica/lateview?schema=sales')
  assert.is(
    rejects({ LATEVIEW_DB: `${primary}?schema=sales`, LATEVIEW_DB_READ: 'postgres://r@replica/lateview?schema=other' }, 'LATEVIEW_DB_READ'),
    'LATEVIEW_DB_READ: schema "other" is not LATEVIEW_DB\'s ("sales"): a replica holds the primary\'s schema; leave ?schema= out',
  )
  assert.is(
    rejects({ LATEVIEW_DB_READ: 'postgres://r@replica/lateview' }, 'LATEVIEW_DB_READ'),
    'LATEVIEW_DB_READ: needs LATEVIEW_DB to be a postgres:// URL: a read replica serves a PostgreSQL store only',
  )
  rejects({ LATEVIEW_DB: '/var/lib/lateview/store.db', LATEVIEW_DB_READ: 'postgres://r@replica/lateview' }, 'LATEVIEW_DB_READ')
  assert.is(rejects({ LATEVIEW_DB: primary, LATEVIEW_DB_READ: './replica.db' }, 'LATEVIEW_DB_READ'), 'LATEVIEW_DB_READ: must be a postgres:// URL of a streaming replica')
  rejects({ LATEVIEW_DB: primary, LATEVIEW_DB_READ: 'postgres://[not-a-host' }, 'LATEVIEW_DB_READ')
  // Blank is unset; the wait is a delay of at most 60 s (0: straight to the primary).
  assert.is(loadConfig({ LATEVIEW_DB: primary, LATEVIEW_DB_READ: ' ' }).readDb, null)
  assert.is(loadConfig({ LATEVIEW_DB_READ_WAIT: '0' }).readWaitMs, 0)
  assert.is(loadConfig({ LATEVIEW_DB_READ_WAIT: 'PT1M' }).readWaitMs, 60_000)
  assert.is(rejects({ LATEVIEW_DB_READ_WAIT: '61s' }, 'LATEVIEW_DB_READ_WAIT'), 'LATEVIEW_DB_READ_WAIT: must be at most 60s: a read waits that long at most before the primary answers it')
  assert.is(rejects({ LATEVIEW_DB_READ_WAIT: 'soon' }, 'LATEVIEW_DB_READ_WAIT'), 'LATEVIEW_DB_READ_WAIT: "soon" is not a delay such as 0, 500ms or 2s')
})

test('the broker: LATEVIEW_NATS_URL turns it on with the contract defaults; each variable is checked', () => {
  assert.equal(loadConfig({ LATEVIEW_NATS_URL: 'nats://127.0.0.1:4222' }).nats, {
    url: 'nats://127.0.0.1:4222',
    stream: 'LATEVIEW_EVENTS',
    subjects: ['lateview.events.>'],
    durable: 'lateview',
    deadLetter: 'lateview.dead',
    batch: 1000,
    create: true,
    ackWaitMs: 30_000,
  })
  assert.equal(
    loadConfig({
      LATEVIEW_NATS_URL: ' nats://a:4222,nats://b:4222 ',
      LATEVIEW_NATS_STREAM: 'SALES',
      LATEVIEW_NATS_SUBJECTS: 'sales.*.events, shop.>',
      LATEVIEW_NATS_DURABLE: 'reports',
      LATEVIEW_NATS_DEAD_LETTER: 'sales.refused',
      LATEVIEW_NATS_BATCH: '250',
      LATEVIEW_NATS_ACK_WAIT: '2m',
      LATEVIEW_NATS_CREATE: 'off',
    }).nats,
    { url: 'nats://a:4222,nats://b:4222', stream: 'SALES', subjects: ['sales.*.events', 'shop.>'], durable: 'reports', deadLetter: 'sales.refused', batch: 250, create: false, ackWaitMs: 120_000 },
  )
  const on = { LATEVIEW_NATS_URL: 'nats://127.0.0.1:4222' }
  assert.is(rejects({ LATEVIEW_NATS_URL: 'http://x' }, 'LATEVIEW_NATS_URL'), 'LATEVIEW_NATS_URL: "http://x" is not a NATS server URL such as nats://127.0.0.1:4222')
  rejects({ ...on, LATEVIEW_NATS_STREAM: 'a.b' }, 'LATEVIEW_NATS_STREAM')
  rejects({ ...on, LATEVIEW_NATS_SUBJECTS: 'a.>.b' }, 'LATEVIEW_NATS_SUBJECTS')
  rejects({ ...on, LATEVIEW_NATS_SUBJECTS: 'a b' }, 'LATEVIEW_NATS_SUBJECTS')
  rejects({ ...on, LATEVIEW_NATS_DURABLE: 'x.y' }, 'LATEVIEW_NATS_DURABLE')
  assert.is(rejects({ ...on, LATEVIEW_NATS_DEAD_LETTER: 'dead.*' }, 'LATEVIEW_NATS_DEAD_LETTER'), 'LATEVIEW_NATS_DEAD_LETTER: "dead.*" is not a NATS subject without wildcards')
  assert.is(rejects({ ...on, LATEVIEW_NATS_BATCH: '0' }, 'LATEVIEW_NATS_BATCH'), 'LATEVIEW_NATS_BATCH: must be a whole number from 1 to 100000')
  rejects({ ...on, LATEVIEW_NATS_BATCH: '100001' }, 'LATEVIEW_NATS_BATCH')
  rejects({ ...on, LATEVIEW_NATS_ACK_WAIT: '500ms' }, 'LATEVIEW_NATS_ACK_WAIT')
  rejects({ ...on, LATEVIEW_NATS_CREATE: 'maybe' }, 'LATEVIEW_NATS_CREATE')
})

test.run()
