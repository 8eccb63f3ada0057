/**
 * The analyst page's Reliability panel in a real Chromium (as analyst.test.ts): six days of the
 * retail fixture replayed through ingest and jobs on a simulated clock, so the older days are
 * closed (final) and every day has several revisions; then every figure of the panel is checked
 * against the four revision-analysis answers of the API, formatted here the way the page shows
 * figures (the measure's decimals, thousands separators, shares as percentages).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { generateFixture } from '../../fixtures/generate.js'
import { loadConfig } from '../../src/config.js'
import { ManualClock } from '../../src/domain/clock.js'
import { parseInstant } from '../../src/domain/time.js'
import { startServer, type RunningServer } from '../../src/server.js'
import { Lateview } from '../../src/services/lateview.js'
import { replay } from '../../src/services/replay.js'
import { loadViewFiles } from '../../src/services/view-files.js'

const CHROMIUM = '/usr/bin/chromium'
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const VIEWS = join(ROOT, 'views')
const OUTPUT = join(ROOT, '.test-output')
const VIEW = 'daily_revenue'
const DAYS = 6
/** 2026-11-02 00:00 in Asia/Taipei, the fixture's first day. */
const START = Date.parse('2026-11-01T16:00:00Z')

const LAUNCH = {
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
}

interface Spread {
  min: number | null
  p10: number | null
  p50: number | null
  p90: number | null
}
interface Vintages {
  measure: string
  lags: string[]
  rows: Array<{ period: string; benchmark: number | null; values: Array<{ lag: string; knownAt: string; value: number | null; share: number | null }> }>
}
interface Accuracy {
  releases: Array<{ kind: string; n: number; meanRevision: number; meanAbsRevision: number; relativeMeanAbsRevision: number | null; accuracy: number | null; withinOnePercent: number }>
}
interface Completeness {
  points: Array<{ lag: string; value: Spread; events: Spread }>
  sources: Array<{ source: string; count: number; lagP50: string; lagP90: string; lagP99: string; lagMax: string }>
}
interface CloseAdvice {
  candidates: Array<{
    afterDays: number
    at: string
    periodsRestated: number
    shareRestated: number | null
    meanAbsRestatement: number | null
    maxAbsRestatement: number | null
    valueKnown: number | null
  }>
  recommended: { afterDays: number; at: string } | null
  sla: Array<{ source: string; suggested: string }>
}
interface Answers {
  vintages: Vintages
  accuracy: Accuracy
  completeness: Completeness
  close: CloseAdvice
}

interface Context {
  dir: string
  /** A copy of the store, for a server that runs the view with rebuild.minChange. */
  heldDb: string
  server: RunningServer
  browser: Browser
  failure: unknown
}

/**
 * Six days of the retail fixture, replayed up to 04:00 on the day after the last one: the first
 * four days are closed (close is D+3 03:30), the last two provisional.
 */
async function buildStore(db: string): Promise<void> {
  const events = generateFixture('retail', { days: DAYS, events: 120, seed: 42 })
  const to = START + (DAYS + 1) * 86_400_000 + 4 * 3_600_000
  const clock = new ManualClock(START)
  const lateview = await Lateview.open({ db, views: loadViewFiles(VIEWS).filter((v) => v.name === VIEW), clock })
  try {
    await replay(lateview, clock, { events: events.filter((e) => (parseInstant(e.receivedAt) ?? Infinity) <= to), from: START, to, stepMinutes: 15 })
  } finally {
    await lateview.close()
  }
}

async function getJson<T>(server: RunningServer, path: string): Promise<T> {
  const res = await fetch(`${server.address}${path}`)
  assert.is(res.status, 200, `GET ${path} answered ${res.status}: ${await res.clone().text()}`)
  return (await res.json()) as T
}

async function answers(server: RunningServer, measure: string): Promise<Answers> {
  const base = `/v1/views/${VIEW}`
  const [vintages, accuracy, completeness, close] = await Promise.all([
    getJson<Vintages>(server, `${base}/vintages?measure=${measure}`),
    getJson<Accuracy>(server, `${base}/accuracy?measure=${measure}`),
    getJson<Completeness>(server, `${base}/completeness?measure=${measure}`),
    getJson<CloseAdvice>(server, `${base}/close-advice?measure=${measure}`),
  ])
  return { vintages, accuracy, completeness, close }
}

const MINUS = '\u2212'

/** A measure value as the page shows it: its decimals (revenue 2, orders 0), thousands separators, a real minus. */
function figure(value: number | null | undefined, decimals: number): string {
  if (value === null || value === undefined) return '—'
  const text = Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
  return value < 0 && Number(text.replace(/,/g, '')) !== 0 ? `${MINUS}${text}` : text
}

/** A change, always signed. */
function signed(value: number | null | undefined, decimals: number): string {
  if (value === null || value === undefined) return '—'
  const text = figure(Math.abs(value), decimals)
  if (Number(text.replace(/,/g, '')) === 0) return text
  return value > 0 ? `+${text}` : `${MINUS}${text}`
}

/** A share as a percentage with `digits` decimals. */
function percent(share: number | null | undefined, digits = 1): string {
  if (share === null || share === undefined) return '—'
  const text = Math.abs(share * 100).toFixed(digits)
  return `${share < 0 && Number(text) !== 0 ? MINUS : ''}${text}%`
}

const DECIMALS: Record<string, number> = { revenue: 2, orders: 0 }

/** The text of the element matching `selector`. */
async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent()) ?? ''
}

/** The texts of every element matching `selector`, trimmed. */
async function texts(page: Page, selector: string): Promise<string[]> {
  return (await page.locator(selector).allTextContents()).map((t) => t.trim())
}

/** Every figure of the open panel against the API's answers for `measure`. */
async function checkPanel(page: Page, a: Answers, measure: string): Promise<void> {
  const d = DECIMALS[measure] as number

  // The revision triangle: one row per period, one cell per lag, share and value of each.
  assert.equal(await page.locator('#vintages thead th[data-lag]').evaluateAll((ths) => ths.map((th) => th.getAttribute('data-lag'))), a.vintages.lags)
  assert.equal(
    await texts(page, '#vintages tbody tr th'),
    a.vintages.rows.map((r) => r.period),
  )
  assert.equal(
    await texts(page, '#vintages tbody td[data-col="benchmark"]'),
    a.vintages.rows.map((r) => figure(r.benchmark, d)),
  )
  const cells = a.vintages.rows.flatMap((r) => r.values.map((v) => ({ period: r.period, ...v })))
  assert.equal(
    await texts(page, '#vintages tbody td.heat .share'),
    cells.map((c) => percent(c.share)),
  )
  assert.equal(
    await texts(page, '#vintages tbody td.heat .value'),
    cells.map((c) => figure(c.value, d)),
  )
  assert.equal(
    await page.locator('#vintages tbody td.heat').evaluateAll((tds) => tds.map((td) => td.getAttribute('data-known-at'))),
    cells.map((c) => c.knownAt),
  )
  const titles = await page.locator('#vintages tbody td.heat').evaluateAll((tds) => tds.map((td) => td.getAttribute('title') ?? ''))
  titles.forEach((title, i) => {
    const c = cells[i] as (typeof cells)[number]
    assert.ok(
      title.startsWith(`${c.period} at `) && title.includes(`(${c.lag})`) && title.includes(`${measure} ${figure(c.value, d)}`) && title.includes(`${percent(c.share)} of `),
      `cell ${i}: ${title}`,
    )
  })

  // Accuracy by release.
  assert.equal(
    await texts(page, '#accuracy tbody th'),
    a.accuracy.releases.map((r) => r.kind),
  )
  const col = (c: string) => texts(page, `#accuracy tbody td[data-col="${c}"]`)
  assert.equal(
    await col('n'),
    a.accuracy.releases.map((r) => String(r.n)),
  )
  assert.equal(
    await col('meanRevision'),
    a.accuracy.releases.map((r) => signed(r.meanRevision, d)),
  )
  assert.equal(
    await col('meanAbsRevision'),
    a.accuracy.releases.map((r) => figure(r.meanAbsRevision, d)),
  )
  assert.equal(
    await col('relativeMeanAbsRevision'),
    a.accuracy.releases.map((r) => percent(r.relativeMeanAbsRevision, 2)),
  )
  assert.equal(
    await col('accuracy'),
    a.accuracy.releases.map((r) => percent(r.accuracy, 2)),
  )
  assert.equal(
    await col('withinOnePercent'),
    a.accuracy.releases.map((r) => percent(r.withinOnePercent)),
  )

  // The completeness curve's points, as the table under the chart lists them, and one dot per median.
  assert.equal(
    await page.locator('#completeness tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-lag'))),
    a.completeness.points.map((p) => p.lag),
  )
  for (const k of ['min', 'p10', 'p50', 'p90'] as const) {
    assert.equal(
      await texts(page, `#completeness tbody td[data-col="${k}"]`),
      a.completeness.points.map((p) => percent(p.value[k])),
      k,
    )
  }
  assert.equal(
    await texts(page, '#completeness tbody td[data-col="events"]'),
    a.completeness.points.map((p) => percent(p.events.p50)),
  )
  assert.is(await page.locator('#completeness-chart svg .curve-point').count(), a.completeness.points.filter((p) => p.value.p50 !== null).length)

  // The close advice: every candidate, the recommended one marked.
  assert.equal(
    await page.locator('#close-candidates tbody tr').evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-after-days')))),
    a.close.candidates.map((c) => c.afterDays),
  )
  const closeCol = (c: string) => texts(page, `#close-candidates tbody td[data-col="${c}"]`)
  assert.equal(
    await closeCol('periodsRestated'),
    a.close.candidates.map((c) => String(c.periodsRestated)),
  )
  assert.equal(
    await closeCol('shareRestated'),
    a.close.candidates.map((c) => percent(c.shareRestated)),
  )
  assert.equal(
    await closeCol('meanAbsRestatement'),
    a.close.candidates.map((c) => figure(c.meanAbsRestatement, d)),
  )
  assert.equal(
    await closeCol('maxAbsRestatement'),
    a.close.candidates.map((c) => figure(c.maxAbsRestatement, d)),
  )
  assert.equal(
    await closeCol('valueKnown'),
    a.close.candidates.map((c) => percent(c.valueKnown, 2)),
  )
  const marked = await page.locator('#close-candidates tbody tr.recommended').evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-after-days'))))
  if (a.close.recommended) {
    assert.equal(marked, [a.close.recommended.afterDays])
    assert.match(await textOf(page, '#close-candidates tbody tr.recommended th'), `${a.close.recommended.at}`)
    assert.match(await textOf(page, '#close-summary'), `Recommended close: ${a.close.recommended.at}`)
  } else {
    assert.equal(marked, [])
    assert.match(await textOf(page, '#close-summary'), 'No close up to D+14')
  }

  // The sources: the lags of completeness and the suggested SLA of the close advice, by source.
  assert.equal(
    await texts(page, '#source-lags tbody th'),
    a.completeness.sources.map((s) => s.source),
  )
  assert.equal(
    await texts(page, '#source-lags tbody td[data-col="count"]'),
    a.completeness.sources.map((s) => s.count.toLocaleString('en-US')),
  )
  const isoOf = (c: string) => page.locator(`#source-lags tbody td[data-col="${c}"]`).evaluateAll((tds) => tds.map((td) => td.getAttribute('title')))
  assert.equal(
    await isoOf('lagP50'),
    a.completeness.sources.map((s) => s.lagP50),
  )
  assert.equal(
    await isoOf('lagMax'),
    a.completeness.sources.map((s) => s.lagMax),
  )
  const suggested = new Map(a.close.sla.map((s) => [s.source, s.suggested]))
  assert.equal(
    await isoOf('suggested'),
    a.completeness.sources.map((s) => suggested.get(s.source) ?? null),
  )
}

const browserMissing = !existsSync(CHROMIUM)

if (browserMissing && !process.env.CI) {
  const skipped = suite('ui reliability panel')
  skipped(`skipped: no browser at ${CHROMIUM}; install Debian's chromium (apt-get install chromium) to run the browser tests`, () => {
    console.log(`ui reliability panel: SKIPPED, ${CHROMIUM} is missing (apt-get install chromium). Under CI this is a failure.`)
  })
  skipped.skip('the panel loads when opened and shows the API figures for the chosen measure', () => {})
  skipped.skip('a refused analysis request shows the problem', () => {})
  skipped.skip('on a phone the panel fits without sideways scrolling', () => {})
  skipped.skip('a late event not yet published shows as pending on the timeline, below the threshold when rebuild.minChange holds it', () => {})
  skipped.run()
} else {
  const test = suite<Context>('ui reliability panel', {} as Context)

  test.before(async (ctx) => {
    try {
      if (browserMissing) throw new Error(`Chromium is missing at ${CHROMIUM}: .ci/run installs it with apt-get install chromium`)
      ctx.dir = mkdtempSync(join(tmpdir(), 'lateview-ui-reliability-'))
      const db = join(ctx.dir, 'six-days.db')
      await buildStore(db)
      ctx.heldDb = join(ctx.dir, 'six-days-held.db')
      copyFileSync(db, ctx.heldDb)
      ctx.server = await startServer(loadConfig({ LATEVIEW_DB: db, LATEVIEW_VIEWS: VIEWS, PORT: '0', LATEVIEW_LOG_LEVEL: 'silent', LATEVIEW_SCHEDULER: 'off' }))
      ctx.browser = await chromium.launch(LAUNCH)
    } catch (error) {
      ctx.failure = error
    }
  })

  test.after(async (ctx) => {
    await ctx.browser?.close()
    await ctx.server?.close()
    if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true })
  })

  test('the panel loads when opened and shows the API figures for the chosen measure', async (ctx) => {
    if (ctx.failure) throw ctx.failure
    const { server, browser } = ctx
    const revenue = await answers(server, 'revenue')
    // The data has what the panel is for: closed days, revisions after the flash, several sources.
    assert.ok(revenue.vintages.rows.length >= DAYS, `periods: ${revenue.vintages.rows.map((r) => r.period).join(', ')}`)
    assert.ok(revenue.vintages.rows.filter((r) => r.benchmark !== null).length >= 3, 'at least three closed days')
    assert.ok(
      revenue.vintages.rows.some((r) => r.values.some((v) => v.share !== null && v.share < 1)),
      'some day was incomplete at some lag',
    )
    assert.ok((revenue.accuracy.releases.find((r) => r.kind === 'flash')?.n ?? 0) >= 3, 'flash revisions compared')
    assert.ok(revenue.completeness.sources.length >= 3)

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await context.newPage()
    const errors: string[] = []
    const analysis: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('request', (r) => {
      if (/\/(vintages|accuracy|completeness|close-advice)\?/.test(r.url())) analysis.push(r.url())
    })
    try {
      await page.goto(`${server.address}/#view=${VIEW}`)
      await page.locator('#revisions tbody tr').first().waitFor()
      // Lazy: nothing is asked before the panel opens.
      assert.equal(analysis, [])
      assert.ok(await page.locator('#reliability-body').isHidden())
      await page.locator('#reliability > summary').click()
      await page.locator('#vintages tbody tr').first().waitFor()
      assert.is(analysis.length, 4)
      assert.ok(
        analysis.every((u) => new URL(u).searchParams.get('measure') === 'revenue'),
        analysis.join(' '),
      )
      await checkPanel(page, revenue, 'revenue')
      assert.is(new URLSearchParams(new URL(page.url()).hash.slice(1)).get('reliability'), 'open')

      mkdirSync(OUTPUT, { recursive: true })
      await page.locator('#reliability').scrollIntoViewIfNeeded()
      await page.evaluate('document.getElementById("reliability").scrollIntoView({ block: "start" })')
      await page.screenshot({ path: join(OUTPUT, 'reliability.png') })

      // The panel follows the page's measure: another measure reloads it with that measure.
      const orders = await answers(server, 'orders')
      await page.selectOption('#measure-select', 'orders')
      await page.locator('#vintages thead th:nth-child(2)', { hasText: 'Benchmark orders' }).waitFor()
      assert.is(analysis.length, 8)
      assert.ok(
        analysis.slice(4).every((u) => new URL(u).searchParams.get('measure') === 'orders'),
        analysis.join(' '),
      )
      await checkPanel(page, orders, 'orders')
      const hash = new URLSearchParams(new URL(page.url()).hash.slice(1))
      assert.equal({ view: hash.get('view'), measure: hash.get('measure'), reliability: hash.get('reliability') }, { view: VIEW, measure: 'orders', reliability: 'open' })

      // A link with the panel open opens it, for the measure it names, and closing it leaves the link.
      const again = await context.newPage()
      await again.goto(page.url())
      await again.locator('#vintages thead th:nth-child(2)', { hasText: 'Benchmark orders' }).waitFor()
      await checkPanel(again, orders, 'orders')
      await again.locator('#reliability > summary').click()
      await again.waitForURL((url) => !url.hash.includes('reliability'))
      assert.ok(new URL(again.url()).hash.includes('measure=orders'))
      assert.equal(errors, [])
    } finally {
      await context.close()
    }
  })

  test('a refused analysis request shows the problem', async (ctx) => {
    if (ctx.failure) throw ctx.failure
    const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 800 } })
    try {
      const page = await context.newPage()
      const problem = { type: 'about:blank', title: 'Invalid query', status: 400, detail: 'measure nope is not a measure of daily_revenue', code: 'LV_ERR_QUERY_INVALID' }
      await page.route('**/v1/views/*/close-advice?*', (route) => route.fulfill({ status: 400, contentType: 'application/problem+json', body: JSON.stringify(problem) }))
      await page.goto(`${ctx.server.address}/#view=${VIEW}&reliability=open`)
      await page.locator('#error', { hasText: problem.code }).waitFor()
      assert.is((await textOf(page, '#error')).trim(), `${problem.title}: ${problem.detail} (${problem.code})`)
      assert.match(await textOf(page, '#reliability-status'), problem.detail)
      assert.ok(await page.locator('#reliability-body').isHidden())
    } finally {
      await context.close()
    }
  })

  test('on a phone the panel fits without sideways scrolling', async (ctx) => {
    if (ctx.failure) throw ctx.failure
    const context = await ctx.browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
    try {
      const page = await context.newPage()
      await page.goto(`${ctx.server.address}/#view=${VIEW}&reliability=open`)
      await page.locator('#close-candidates tbody tr').first().waitFor()
      await page.locator('#revisions tbody tr').first().waitFor()
      assert.is(await page.evaluate('document.documentElement.scrollWidth'), 390)
      // Wide tables scroll inside their own box, never the page.
      const boxes = (await page.locator('#reliability .table-scroll, #completeness-chart').evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().right)))) as number[]
      assert.ok(
        boxes.every((right) => right <= 390),
        `right edges: ${boxes.join(', ')}`,
      )
    } finally {
      await context.close()
    }
  })

  test('a late event not yet published shows as pending on the timeline, below the threshold when rebuild.minChange holds it', async (ctx) => {
    if (ctx.failure) throw ctx.failure
    // The same store under version 2 of the view, which holds back late moves below 5 %.
    const views = join(ctx.dir, 'views-min-change')
    mkdirSync(views)
    for (const file of readdirSync(VIEWS).filter((f) => f.endsWith('.json'))) {
      const definition = JSON.parse(readFileSync(join(VIEWS, file), 'utf8'))
      if (definition.name === VIEW) Object.assign(definition, { version: definition.version + 1, rebuild: { ...definition.rebuild, minChange: { relative: 0.05 } } })
      writeFileSync(join(views, file), JSON.stringify(definition))
    }
    const held = await startServer(loadConfig({ LATEVIEW_DB: ctx.heldDb, LATEVIEW_VIEWS: views, PORT: '0', LATEVIEW_LOG_LEVEL: 'silent', LATEVIEW_SCHEDULER: 'off' }))
    const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 800 } })
    try {
      for (const [server, note] of [
        [ctx.server, /^pending, not published yet: \+12\.34 revenue, \+1 event$/],
        [held, /^pending below threshold: \+12\.34 revenue, \+1 event$/],
      ] as const) {
        const status = await getJson<{ status: { periods: Record<string, string[]> } }>(server, `/v1/views/${VIEW}`)
        const period = [...(status.status.periods.provisional ?? [])].sort()[0] as string
        assert.ok(period, 'a provisional period')
        const res = await fetch(`${server.address}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: 'late-reliability-1', source: 'store-003', type: 'sale', occurredAt: `${period}T12:00:00+08:00`, data: { store: '003', channel: 'pos', amount: 12.34 } }),
        })
        assert.ok(res.ok, `POST /v1/events answered ${res.status}: ${await res.clone().text()}`)
        const after = await getJson<{ status: { dirty: Array<{ period: string; pending?: { eventCount: number; measures: Record<string, number | null>; belowMinChange: boolean } }> } }>(
          server,
          `/v1/views/${VIEW}`,
        )
        const pending = after.status.dirty.find((d) => d.period === period)?.pending
        assert.ok(pending, `the status of ${period} carries what is pending: ${JSON.stringify(after.status.dirty)}`)
        // The server decides whether the rebuilder holds it back, by its exact rule; the page only says so.
        assert.equal(pending, { eventCount: 1, measures: { ...pending.measures, revenue: 12.34, orders: 1 }, belowMinChange: server === held })
        const page = await context.newPage()
        await page.goto(`${server.address}/#view=${VIEW}&period=${period}`)
        await page.locator('#pending-note').waitFor({ state: 'visible' })
        assert.match(await textOf(page, '#pending-note'), note)
        await page.close()
      }
    } finally {
      await context.close()
      await held.close()
    }
  })

  test.run()
}
