/**
 * The lateview command, run as users run it: `node src/cli/lateview.mjs …` in a child process
 * with LATEVIEW_DB and LATEVIEW_VIEWS, on a temporary SQLite file and on a PostgreSQL schema of
 * its own. Expected figures are computed here from the fixture generator, independently of the
 * store: seqs (duplicates take none), retractions, signs and cents.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { fixtureCounts, generateFixture, type FixtureEvent } from '../../fixtures/generate.js'
import { JOB_NAMES } from '../../src/services/jobs.js'
import { engines, TEST_PG_URL } from '../helpers/engines.js'
import { lateviewNodeFlags } from '../helpers/node-flags.js'

const FACTORIES = await engines()
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = join(ROOT, 'src/cli/lateview.mjs')
const TMP = mkdtempSync(join(tmpdir(), 'lateview-cli-test-'))
// Removed however the run ends; the PostgreSQL schemas are dropped in each suite's `after`.
process.on('exit', () => rmSync(TMP, { recursive: true, force: true }))
const COMMANDS = ['serve', 'ingest', 'verify', 'run', 'report', 'diff', 'demo', 'fixtures']

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** The environment of a child: this one without any LATEVIEW_* setting, plus `extra`. */
function environment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { FORCE_COLOR: '0', NO_COLOR: '1' }
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('LATEVIEW_') && key !== 'FORCE_COLOR') env[key] = value
  return { ...env, LATEVIEW_VIEWS: 'views', ...extra }
}

function start(args: string[], env: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore' = 'ignore'): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: [stdin, 'pipe', 'pipe'] })
}

function collect(child: ChildProcess): Promise<Result> {
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

function lateview(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return collect(start(args, env))
}

/** `lateview fixtures … | lateview ingest …`: the fixture command's stdout is the ingest's stdin. */
async function pipeFixtures(fixtureArgs: string[], ingestArgs: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  const producer = start(['fixtures', ...fixtureArgs], env)
  const consumer = start(['ingest', ...ingestArgs], env, 'pipe')
  producer.stdout?.pipe(consumer.stdin as NodeJS.WritableStream)
  const [made, ingested] = await Promise.all([collect(producer), collect(consumer)])
  assert.equal({ code: made.code, stderr: made.stderr }, { code: 0, stderr: '' }, 'lateview fixtures')
  return ingested
}

/** Asserts exit code (and empty stderr on success), showing the output when it differs. */
function exits(result: Result, code: number): Result {
  assert.is(result.code, code, `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`)
  if (code === 0) assert.is(result.stderr, '')
  return result
}

// --- expected figures, from the fixture alone -------------------------------------------------

interface Stored {
  seq: number
  event: FixtureEvent
}

/** The fixture as the store keeps it: a re-send of a known (source, id) is a duplicate and takes no seq. */
function stored(events: FixtureEvent[]): Stored[] {
  const seen = new Set<string>()
  const kept: Stored[] = []
  for (const event of events) {
    const key = `${event.source}\u0000${event.id}`
    if (seen.has(key)) continue
    seen.add(key)
    kept.push({ seq: kept.length + 1, event })
  }
  return kept
}

/** The last seq received at or before `iso`. */
function cutoffAt(events: Stored[], iso: string): number {
  const at = Date.parse(iso)
  return events.filter((s) => Date.parse(s.event.receivedAt) <= at).reduce((max, s) => Math.max(max, s.seq), 0)
}

interface Cell {
  cents: number
  orders: number
  largestCents: number | null
  events: number
}

/** daily_revenue cells (dims key → figures in cents) of one period, or of all (period null), at seq K. */
function revenueCells(events: Stored[], cutoff: number, period: string | null): Map<string, Cell> {
  const live = events.filter((s) => s.seq <= cutoff)
  const voided = new Set(live.filter((s) => s.event.retracts !== undefined).map((s) => `${s.event.source}\u0000${s.event.retracts}`))
  const cells = new Map<string, Cell>()
  for (const { event } of live) {
    if (event.retracts !== undefined || voided.has(`${event.source}\u0000${event.id}`)) continue
    // Taipei has no DST: the local date of the +08:00 occurredAt is the period.
    const day = event.occurredAt.slice(0, 10)
    if (period !== null && day !== period) continue
    const sign = event.type === 'refund' ? -1 : 1
    const cents = sign * Math.round(Number(event.data.amount) * 100)
    const key = `${period === null ? day : ''}${JSON.stringify([event.data.store, event.data.channel])}`
    const cell = cells.get(key) ?? { cents: 0, orders: 0, largestCents: null, events: 0 }
    cell.cents += cents
    cell.orders += sign
    cell.largestCents = cell.largestCents === null ? cents : Math.max(cell.largestCents, cents)
    cell.events += 1
    cells.set(key, cell)
  }
  return cells
}

function csvOf(cells: Map<string, Cell>): string {
  const lines = ['store,channel,revenue,orders,largest,eventCount']
  for (const key of [...cells.keys()].sort()) {
    const c = cells.get(key) as Cell
    const [store, channel] = JSON.parse(key) as [string, string]
    lines.push(`${store},${channel},${c.cents / 100},${c.orders},${c.largestCents === null ? '' : c.largestCents / 100},${c.events}`)
  }
  return `${lines.join('\r\n')}\r\n`
}

function measuresOf(c: Cell | undefined): Record<string, number | null> | null {
  return c ? { revenue: c.cents / 100, orders: c.orders, largest: c.largestCents === null ? null : c.largestCents / 100 } : null
}

const LIVE = generateFixture('retail', { days: 3 })
const LIVE_COUNTS = fixtureCounts('retail', { days: 3 })
const HISTORY = generateFixture('retail', { days: 3, events: 200 })
const HISTORY_COUNTS = fixtureCounts('retail', { days: 3, events: 200 })
const HISTORY_STORED = stored(HISTORY)
const CONSOLIDATE_NOW = '2026-11-03T03:00:00+08:00'
const REBUILD_NOW = '2026-11-08T00:00:00+08:00'
const K1 = cutoffAt(HISTORY_STORED, CONSOLIDATE_NOW)
const K2 = cutoffAt(HISTORY_STORED, REBUILD_NOW)
const R1 = revenueCells(HISTORY_STORED, K1, '2026-11-02')
const R2 = revenueCells(HISTORY_STORED, K2, '2026-11-02')

const SUMMARY = (accepted: number, duplicates: number, refused: number, batches: number, tail = '') =>
  new RegExp(`^ingested ${accepted} events, ${duplicates} duplicates, ${refused} refused in ${batches} batches${tail.replace(/[()]/g, '\\$&')} in \\d+\\.\\d s \\(\\d+ events/s\\)\\n$`)

const VERIFIED = (cells: number, seq: number, revisions: number) =>
  `verified ${cells} realtime cells of 2 views at seq ${seq}: 0 differences\nverified ${revisions} revisions against recomputations at their cutoffs: 0 differences\n`

// --- commands that need no store ---------------------------------------------------------------

const plain = suite('cli: usage, fixtures, view files')
const NO_STORE = environment({ LATEVIEW_DB: join(TMP, 'unused.db') })
const DEMO_DB = join(TMP, 'demo.db')

// The demo is the slowest command: it runs alongside the other suites and is checked last.
let demo: Promise<Result> | null = null
const startDemo = (): Promise<Result> => (demo ??= lateview(['demo', '--days', '3', '--events', '100', '--db', DEMO_DB], NO_STORE))
plain.before(() => {
  void startDemo()
})

plain('the lateview command and npm start run Node with the same flags: the heap capped at 512 MB, 8 MB semi-spaces', () => {
  const flags = lateviewNodeFlags()
  assert.equal(flags, ['--max-old-space-size=512', '--max-semi-space-size=8'])
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
  assert.is(start, `node ${flags.join(' ')} src/cli/lateview.mjs serve`)
})

plain('--help lists every command and exits 0; no command at all is bad usage (2)', async () => {
  const [help, none] = await Promise.all([lateview(['--help'], NO_STORE), lateview([], NO_STORE)])
  exits(help, 0)
  assert.ok(help.stdout.startsWith('lateview: reports on data that arrives late\n\nUsage: lateview <command> [options]'), help.stdout)
  for (const name of COMMANDS) assert.match(help.stdout, new RegExp(`^  ${name} +\\S`, 'm'))
  assert.is(none.code, 2)
  assert.is(none.stdout, help.stdout)
})

plain('<command> --help prints its usage and exits 0', async () => {
  const results = await Promise.all(COMMANDS.map((name) => lateview([name, '--help'], NO_STORE)))
  results.forEach((result, i) => {
    exits(result, 0)
    assert.ok(result.stdout.startsWith(`Usage: lateview ${COMMANDS[i]}`), result.stdout)
  })
  assert.ok((results[5] as Result).stdout.startsWith('Usage: lateview diff <view> <period> <from> <to> [--format table|json|csv]\n\n'))
})

plain('bad usage exits 2 with the reason on stderr: unknown command, fixtures nope, unknown option', async () => {
  const [unknown, nope, option, job] = await Promise.all([
    lateview(['frobnicate'], NO_STORE),
    lateview(['fixtures', 'nope'], NO_STORE),
    lateview(['verify', '--bogus'], NO_STORE),
    lateview(['run', 'tidy'], NO_STORE),
  ])
  assert.is(unknown.code, 2)
  assert.is(unknown.stdout, '')
  assert.ok(unknown.stderr.startsWith('lateview: unknown command "frobnicate"\n'), unknown.stderr)
  assert.is(nope.code, 2)
  assert.is(nope.stdout, '')
  assert.is(nope.stderr, 'lateview fixtures: choose retail or lab\nUsage: lateview fixtures <retail|lab> [--days 3] [--events 2000] [--seed 42] [--start 2026-11-02]\n')
  assert.is(option.code, 2)
  assert.match(option.stderr, /^lateview verify: .*--bogus.*\nUsage: lateview verify \[--view <name>\] \[--format table\|json\]\n$/)
  assert.is(job.code, 2)
  assert.ok(job.stderr.startsWith(`lateview run: choose one job: ${JOB_NAMES.join(', ')}\nUsage: lateview run `), job.stderr)
})

plain('--version, help <command>, a bad --format value (2), a missing input file (1, one line)', async () => {
  const [version, help, unknownHelp, format, missing, demoFormat] = await Promise.all([
    lateview(['--version'], NO_STORE),
    lateview(['help', 'report'], NO_STORE),
    lateview(['help', 'nope'], NO_STORE),
    lateview(['run', 'flash', '--format', 'xml'], NO_STORE),
    lateview(['ingest', join(TMP, 'no-such-file.ndjson')], NO_STORE),
    lateview(['demo', '--format', 'csv'], NO_STORE),
  ])
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  assert.is(exits(version, 0).stdout, `${pkg.version}\n`)
  assert.ok(exits(help, 0).stdout.startsWith('Usage: lateview report <view> <period> [--revision N | --as-of ISO] [--format table|json|csv]\n\n'), help.stdout)
  assert.is(unknownHelp.code, 2)
  assert.ok(unknownHelp.stderr.startsWith('lateview help: unknown command "nope"\n'), unknownHelp.stderr)
  assert.equal([format.code, format.stdout], [2, ''])
  assert.ok(format.stderr.startsWith('lateview run: --format is table or json\nUsage: lateview run '), format.stderr)
  assert.equal([demoFormat.code, demoFormat.stdout], [2, ''])
  assert.ok(demoFormat.stderr.startsWith('lateview demo: --format is table or json\nUsage: lateview demo '), demoFormat.stderr)
  assert.equal(missing, { code: 1, stdout: '', stderr: `lateview ingest: cannot read ${join(TMP, 'no-such-file.ndjson')}: no such file\n` })
})

plain('a reader that stops early (| head -1): the command ends quietly with 0, no EPIPE', async () => {
  const child = start(['fixtures', 'retail', '--days', '3'], NO_STORE)
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const code = await new Promise<number | null>((resolve) => {
    child.on('close', (c) => resolve(c))
    // Like head: read the first chunk, then close the pipe.
    child.stdout?.once('data', () => child.stdout?.destroy())
  })
  assert.equal({ code, stderr }, { code: 0, stderr: '' })
})

plain('fixtures writes the generator output as NDJSON, byte for byte', async () => {
  const result = exits(await lateview(['fixtures', 'lab', '--days', '2', '--events', '30', '--seed', '7'], NO_STORE), 0)
  const expected = generateFixture('lab', { days: 2, events: 30, seed: 7 })
  assert.is(expected.length, fixtureCounts('lab', { days: 2, events: 30 }).total)
  assert.is(result.stdout, expected.map((e) => `${JSON.stringify(e)}\n`).join(''))
})

plain('an invalid view file stops verify (exit 1) naming the file, the field and the problem', async () => {
  const dir = join(TMP, 'bad-views')
  mkdirSync(dir)
  const definition = JSON.parse(readFileSync(join(ROOT, 'views/daily_revenue.json'), 'utf8')) as { measures: Record<string, unknown> }
  definition.measures.x = { median: 'amount' }
  const file = join(dir, 'daily_revenue.json')
  writeFileSync(file, JSON.stringify(definition, null, 2))
  const result = await lateview(['verify'], { ...NO_STORE, LATEVIEW_VIEWS: dir })
  assert.is(result.code, 1)
  assert.is(result.stdout, '')
  assert.is(result.stderr, `lateview: invalid view definition ${file}: measures.x: unknown measure kind "median" (use sum, count, min, max, avg)\n`)
})

plain.run()

// --- commands over a store, on each engine ------------------------------------------------------

async function dropSchemas(schemas: string[]): Promise<void> {
  if (schemas.length === 0) return
  const client = new pg.Client({ connectionString: TEST_PG_URL })
  await client.connect()
  try {
    for (const schema of schemas.splice(0)) await client.query(`drop schema if exists ${schema} cascade`)
  } finally {
    await client.end()
  }
}

for (const factory of FACTORIES) {
  const test = suite(`cli (${factory.name})`)
  const pgSchemas: string[] = []
  test.after(async () => {
    await dropSchemas(pgSchemas)
    await factory.cleanup()
  })
  const dbFor = (name: string): string => {
    if (factory.name === 'sqlite') return join(TMP, `${name}.db`)
    const schema = `lvcli_${process.pid}_${Date.now().toString(36)}_${name}`
    pgSchemas.push(schema)
    const url = new URL(TEST_PG_URL)
    url.searchParams.set('schema', schema)
    return url.toString()
  }
  const live = environment({ LATEVIEW_DB: dbFor('live') })
  const history = environment({ LATEVIEW_DB: dbFor('history') })

  test('fixtures retail --days 3 | ingest -: every event once, re-sends counted as duplicates; verify finds 0 differences', async () => {
    const total = LIVE_COUNTS.total
    assert.is(LIVE.length, total)
    // Seed 42, 3 days of 2000: 6000 events, 18 retractions and 9 corrections are stored; 30 re-sends are duplicates.
    assert.equal([total - LIVE_COUNTS.duplicates, LIVE_COUNTS.duplicates], [6027, 30])
    const ingested = exits(await pipeFixtures(['retail', '--days', '3'], ['-'], live), 0)
    assert.match(ingested.stdout, SUMMARY(total - LIVE_COUNTS.duplicates, LIVE_COUNTS.duplicates, 0, Math.ceil(total / 1000)))
    const cells = revenueCells(stored(LIVE), Number.MAX_SAFE_INTEGER, null).size
    assert.is(exits(await lateview(['verify'], live), 0).stdout, VERIFIED(cells, total - LIVE_COUNTS.duplicates, 0))
  })

  test('ingest of a file with one bad line: exit 1, the line and its code named, nothing written', async () => {
    const good = (id: string) => JSON.stringify({ id, source: 'store-001', type: 'sale', occurredAt: '2026-11-20T10:00:00+08:00', data: { store: '001', channel: 'pos', amount: 1.5 } })
    const file = join(TMP, `bad-${factory.name}.ndjson`)
    writeFileSync(file, [good('cli-1'), good('cli-2'), JSON.stringify({ id: 'cli-3', source: 'store-001', type: 'sale', data: {} }), good('cli-4'), ''].join('\n'))
    const result = await lateview(['ingest', file], live)
    assert.is(result.code, 1)
    assert.match(result.stdout, SUMMARY(0, 0, 4, 1, ' (1 refused)'))
    assert.is(
      result.stderr,
      'batch of lines 1-4 refused (LV_ERR_EVENTS_INVALID): 1 event of the batch is not valid; nothing was written\n' +
        '  line 3 (id cli-3): LV_EVENT_FIELD_MISSING occurredAt: occurredAt is required\n',
    )
    const cells = revenueCells(stored(LIVE), Number.MAX_SAFE_INTEGER, null).size
    assert.is(exits(await lateview(['verify'], live), 0).stdout, VERIFIED(cells, LIVE_COUNTS.total - LIVE_COUNTS.duplicates, 0))
  })

  test('ingest --import, run consolidate and rebuild at a given now: tables of published runs', async () => {
    const ingested = exits(await pipeFixtures(['retail', '--days', '3', '--events', '200'], ['--import', '-'], history), 0)
    assert.match(ingested.stdout, SUMMARY(HISTORY_COUNTS.total - HISTORY_COUNTS.duplicates, HISTORY_COUNTS.duplicates, 0, 1))

    const consolidate = exits(await lateview(['run', 'consolidate', '--view', 'daily_revenue', '--period', '2026-11-02', '--now', CONSOLIDATE_NOW], history), 0)
    const lines = consolidate.stdout.split('\n')
    assert.match(lines[0] as string, /^job +view +period +outcome +revision +detail +ms$/)
    assert.match(lines[2] as string, new RegExp(`^consolidate  daily_revenue  2026-11-02  published +1  consolidated at cutoff seq ${K1} +\\d+(\\.\\d+)?$`))
    assert.is(lines.length, 4)

    const rebuild = exits(await lateview(['run', 'rebuild', '--view', 'daily_revenue', '--period', '2026-11-02', '--now', REBUILD_NOW], history), 0)
    assert.match(rebuild.stdout, new RegExp(`^rebuild +daily_revenue  2026-11-02  published +2  revision at cutoff seq ${K2} +\\d+(\\.\\d+)?$`, 'm'))
    assert.ok(K1 < K2, `${K1} < ${K2}`)
  })

  test('report: a table with its total row; CSV of the latest revision and of revision 1', async () => {
    const table = exits(await lateview(['report', 'daily_revenue', '2026-11-02'], history), 0).stdout
    const cells = [...R2.values()]
    const cents = cells.reduce((n, c) => n + c.cents, 0)
    const orders = cells.reduce((n, c) => n + c.orders, 0)
    const largest = Math.max(...cells.map((c) => c.largestCents ?? Number.NEGATIVE_INFINITY)) / 100
    const events = cells.reduce((n, c) => n + c.events, 0)
    const late = HISTORY_STORED.filter((s) => s.seq <= K2 && s.event.retracts === undefined && s.event.occurredAt.startsWith('2026-11-02') && s.event.receivedAt >= '2026-11-02T16:00:00.000Z')
    const voided = new Set(HISTORY_STORED.filter((s) => s.seq <= K2 && s.event.retracts !== undefined).map((s) => `${s.event.source}\u0000${s.event.retracts}`))
    const lateCount = late.filter((s) => !voided.has(`${s.event.source}\u0000${s.event.id}`)).length
    const cutoffReceived = (HISTORY_STORED[K2 - 1] as Stored).event.receivedAt
    const lines = table.trimEnd().split('\n')
    assert.match(
      lines[0] as string,
      new RegExp(
        `^daily_revenue 2026-11-02 · provisional · revision 2 \\(revision\\) · cutoff seq ${K2} received ${cutoffReceived.replace(/\./g, '\\.')} · ${events} events, ${lateCount} late · \\d+% complete$`,
      ),
    )
    assert.match(lines[1] as string, /^store +channel +revenue +orders +largest +events$/)
    assert.match(lines.at(-1) as string, new RegExp(`^total +${String(cents / 100).replace('.', '\\.')} +${orders} +${String(largest).replace('.', '\\.')} +${events}$`))
    assert.is(lines.length, 1 + 2 + R2.size + 1)

    assert.is(exits(await lateview(['report', 'daily_revenue', '2026-11-02', '--format', 'csv'], history), 0).stdout, csvOf(R2))
    assert.is(exits(await lateview(['report', 'daily_revenue', '2026-11-02', '--revision', '1', '--format', 'csv'], history), 0).stdout, csvOf(R1))
  })

  test('diff daily_revenue 2026-11-02 1 2: every changed cell with before, after and delta', async () => {
    const keys = [...new Set([...R1.keys(), ...R2.keys()])].sort()
    const changed = keys.filter((k) => JSON.stringify(R1.get(k)) !== JSON.stringify(R2.get(k)))
    assert.ok(changed.length > 0)
    const text = exits(await lateview(['diff', 'daily_revenue', '2026-11-02', '1', '2'], history), 0).stdout
    assert.ok(text.startsWith(`daily_revenue 2026-11-02: revision 1 (seq ${K1}) → revision 2 (seq ${K2}): ${changed.length} changed cells\n`), text)
    const expected = changed.map((key) => {
      const [store, channel] = JSON.parse(key) as [string, string]
      const before = measuresOf(R1.get(key))
      const after = measuresOf(R2.get(key))
      const b = R1.get(key)
      const a = R2.get(key)
      const x = after?.largest ?? null
      const y = before?.largest ?? null
      const delta = {
        revenue: ((a?.cents ?? 0) - (b?.cents ?? 0)) / 100,
        orders: (a?.orders ?? 0) - (b?.orders ?? 0),
        largest: x === y ? 0 : x === null || y === null ? null : Math.round((x - y) * 100) / 100,
      }
      return `${JSON.stringify({ store, channel })}  before ${JSON.stringify(before)}  after ${JSON.stringify(after)}  Δ ${JSON.stringify(delta)}`
    })
    assert.equal(
      text.split('\n').filter((line) => line.startsWith('{')),
      expected,
    )
    // Each change is followed by the table of the events behind it, all received between the two cutoffs.
    const seqs = [...text.matchAll(/^ *(\d+) {2}(?:store|online)-/gm)].map((m) => Number(m[1]))
    assert.ok(seqs.length >= changed.length)
    for (const seq of seqs) assert.ok(seq > K1 && seq <= K2, String(seq))
  })

  test('diff … --format csv: every row of either side with before, after, delta, explaining events and status', async () => {
    // The events received between the two cutoffs, each counted in the cell it (or the event it retracts) falls in.
    const bySourceId = new Map(HISTORY_STORED.map((s) => [`${s.event.source}\u0000${s.event.id}`, s.event]))
    const explaining = new Map<string, number>()
    for (const s of HISTORY_STORED) {
      if (s.seq <= K1 || s.seq > K2) continue
      const facts = s.event.retracts === undefined ? s.event : bySourceId.get(`${s.event.source}\u0000${s.event.retracts}`)
      if (!facts?.occurredAt.startsWith('2026-11-02')) continue
      const key = JSON.stringify([facts.data.store, facts.data.channel])
      explaining.set(key, (explaining.get(key) ?? 0) + 1)
    }
    const text = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v))
    const lines = [...new Set([...R1.keys(), ...R2.keys()])].sort().map((key) => {
      const [store, channel] = JSON.parse(key) as [string, string]
      const b = R1.get(key)
      const a = R2.get(key)
      const same = JSON.stringify(b) === JSON.stringify(a)
      const largest = b?.largestCents === a?.largestCents ? 0 : b?.largestCents == null || a?.largestCents == null ? null : (a.largestCents - b.largestCents) / 100
      return [
        store,
        channel,
        text(b && b.cents / 100),
        text(a && a.cents / 100),
        ((a?.cents ?? 0) - (b?.cents ?? 0)) / 100,
        text(b?.orders),
        text(a?.orders),
        (a?.orders ?? 0) - (b?.orders ?? 0),
        text(b && b.largestCents !== null ? b.largestCents / 100 : null),
        text(a && a.largestCents !== null ? a.largestCents / 100 : null),
        text(largest),
        same ? 0 : (explaining.get(key) ?? 0),
        same ? 'same' : !b ? 'new' : !a ? 'removed' : 'changed',
      ].join(',')
    })
    assert.ok(lines.some((l) => l.endsWith(',same')) && lines.some((l) => l.endsWith(',changed')), lines.join('\n'))
    const expected = `store,channel,revenue_before,revenue_after,revenue_delta,orders_before,orders_after,orders_delta,largest_before,largest_after,largest_delta,events,status\r\n${lines.join('\r\n')}\r\n`
    assert.is(exits(await lateview(['diff', 'daily_revenue', '2026-11-02', '1', '2', '--format', 'csv'], history), 0).stdout, expected)
    const bad = await lateview(['diff', 'daily_revenue', '2026-11-02', '1', '2', '--format', 'xml'], history)
    assert.equal([bad.code, bad.stdout], [2, ''])
    assert.match(bad.stderr, /^lateview diff: --format is table, json or csv\n/)
  })

  test('verify after the jobs: realtime cells and both revisions recompute exactly', async () => {
    const cells = revenueCells(HISTORY_STORED, Number.MAX_SAFE_INTEGER, null).size
    assert.is(exits(await lateview(['verify'], history), 0).stdout, VERIFIED(cells, HISTORY_COUNTS.total - HISTORY_COUNTS.duplicates, 2))
    // The same as JSON, for scripts.
    const json = JSON.parse(exits(await lateview(['verify', '--format', 'json'], history), 0).stdout) as Record<string, unknown>
    assert.equal(json, { seq: HISTORY_COUNTS.total - HISTORY_COUNTS.duplicates, cells, views: 2, differences: [], revisions: 2, revisionDifferences: [] })
  })

  test('run --format json: the runs recorded, as the API lists them', async () => {
    const result = exits(await lateview(['run', 'consolidate', '--view', 'daily_revenue', '--period', '2026-11-02', '--format', 'json'], history), 0)
    const runs = JSON.parse(result.stdout) as Array<Record<string, unknown>>
    assert.equal(
      runs.map((r) => [r.job, r.view, r.period, r.trigger, r.outcome]),
      [['consolidate', 'daily_revenue', '2026-11-02', 'manual', 'skipped']],
    )
  })

  test.run()
}

const last = suite('cli: demo')

last('demo replays a fixture on a simulated clock: flash, consolidation or revisions, final, and verifies', async () => {
  const counts = fixtureCounts('retail', { days: 3, events: 100 })
  const out = exits(await startDemo(), 0).stdout
  assert.ok(out.startsWith(`lateview demo: ${counts.total} retail events (3 days × 100), view daily_revenue (Asia/Taipei)\nstore: ${DEMO_DB}\n`), out)
  assert.match(out, new RegExp(`^ingested ${counts.total - counts.duplicates} events; \\d+ job runs, \\d+ revisions published`, 'm'))
  for (const day of ['2026-11-02', '2026-11-03', '2026-11-04']) assert.match(out, new RegExp(`^daily_revenue ${day} \\((provisional|final)\\)$`, 'm'))
  assert.match(out, /^ +1 {2}flash /m)
  assert.match(out, /^ +\d+ {2}(consolidated|revision) /m)
  assert.match(out, /^ +\d+ {2}final /m)
  assert.match(out, /^verify: 0 differences in \d+ realtime cells, 0 in \d+ revisions$/m)
})

last.run()
