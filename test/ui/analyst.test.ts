/**
 * The analyst page in a real Chromium (Debian's `chromium`, driven by playwright-core): demo data
 * replayed through ingest and jobs, the page served by lateview itself, and every figure the page
 * shows checked against what the API answers for the same request.
 *
 * Without /usr/bin/chromium the suite is skipped with a message, except under CI, where a missing
 * browser is a failure (.ci/run installs it).
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { FIXTURE_VIEWS, generateFixture } from '../../fixtures/generate.js'
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
const DOCS = join(ROOT, 'docs')
// Screenshots go to .test-output/ (ignored by git), so that a test run changes no tracked file;
// LATEVIEW_UPDATE_DOCS=1 takes them into docs/, the README's pictures.
const SHOTS = process.env.LATEVIEW_UPDATE_DOCS === '1' ? DOCS : join(ROOT, '.test-output')
const VIEW = 'daily_revenue'
const TOKEN = 'read-token-for-the-ui-test-0123'

const LAUNCH = {
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
}

type Measures = Record<string, number | null>
interface DiffEvent {
  id: string
  source: string
  receivedAt: string
  occurredAt: string
  contribution: Measures
}
interface Change {
  dims: Record<string, string>
  before: Measures | null
  after: Measures | null
  delta: Measures
  events: DiffEvent[]
}
interface DiffDoc {
  changes: Change[]
  totals: { before: Measures; after: Measures; delta: Measures }
}
interface ReportDoc {
  revision: number | null
  eventCount: number
  lateEventCount: number
  rows: Array<{ dims: Record<string, string>; measures: Measures }>
  totals: { measures: Measures }
}
interface Totals {
  measures: Measures
  eventCount: number
}

interface Context {
  dir: string
  /** A copy of the demo store, for a server with authentication on. */
  authDb: string
  server: RunningServer
  browser: Browser
  failure: unknown
}

/**
 * Replays two days of the retail fixture on a simulated clock (the demo's path, shortened to the
 * first 52 hours and 15-minute steps): flash, rebuilds and consolidation publish revisions.
 */
async function buildDemoStore(db: string): Promise<void> {
  const events = generateFixture('retail', { days: 2, events: 80, seed: 42 })
  const from = Date.parse('2026-11-01T16:00:00Z') // 2026-11-02 00:00 in Asia/Taipei
  const to = from + 52 * 3_600_000
  const clock = new ManualClock(from)
  const lateview = await Lateview.open({ db, views: loadViewFiles(VIEWS).filter((v) => v.name === VIEW), clock })
  try {
    await replay(lateview, clock, { events: events.filter((e) => (parseInstant(e.receivedAt) ?? Infinity) <= to), from, to, stepMinutes: 15 })
  } finally {
    await lateview.close()
  }
}

function serverEnv(db: string, extra: Record<string, string> = {}) {
  return loadConfig({ LATEVIEW_DB: db, LATEVIEW_VIEWS: VIEWS, PORT: '0', LATEVIEW_LOG_LEVEL: 'silent', LATEVIEW_SCHEDULER: 'off', ...extra })
}

async function getJson<T>(server: RunningServer, path: string, token?: string): Promise<T> {
  const res = await fetch(`${server.address}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  assert.is(res.status, 200, `GET ${path} answered ${res.status}`)
  return (await res.json()) as T
}

async function getText(server: RunningServer, path: string, token?: string): Promise<string> {
  const res = await fetch(`${server.address}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  assert.is(res.status, 200, `GET ${path} answered ${res.status}`)
  return res.text()
}

/** A period with at least three revisions whose 1 → 3 diff changed rows, and that diff. */
async function comparedPeriod(server: RunningServer, token?: string): Promise<{ period: string; diff: DiffDoc }> {
  const status = await getJson<{ status: { periods: Record<string, string[]> } }>(server, `/v1/views/${VIEW}`, token)
  const candidates = [...(status.status.periods.provisional ?? []), ...(status.status.periods.final ?? [])].sort()
  for (const p of candidates) {
    const revisions = await getJson<{ revisions: unknown[] }>(server, `/v1/views/${VIEW}/periods/${p}/revisions`, token)
    if (revisions.revisions.length < 3) continue
    const d = await getJson<DiffDoc>(server, `/v1/views/${VIEW}/periods/${p}/diff?from=1&to=3`, token)
    if (d.changes.some((c) => c.events.length > 0)) return { period: p, diff: d }
  }
  throw new Error(`no period of ${VIEW} has revisions 1 and 3 that differ: ${candidates.join(', ')}`)
}

/** Clicks Download CSV and returns the saved file's name and text. */
async function downloadCsv(page: Page, dir: string, name: string): Promise<{ file: string; text: string }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download').click()])
  const path = join(dir, name)
  await download.saveAs(path)
  return { file: download.suggestedFilename(), text: readFileSync(path, 'utf8') }
}

/** A figure as the page shows it ("1,612.97", "+2,312.72", "−24.03") as a number. */
function shown(text: string | null): number {
  return Number((text ?? '').trim().replace(/,/g, '').replace(/^\+/, '').replace('\u2212', '-'))
}

const cents = (n: number | null | undefined) => Math.round((n ?? NaN) * 100) / 100

async function cellText(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent()) ?? ''
}

/** The two sizes the page is laid out for: a phone and a laptop. */
const SIZES = [
  { width: 390, height: 844 },
  { width: 1280, height: 800 },
] as const

/** Elements that must be shown whole: figures, controls, their labels, column titles. */
const KEY_SELECTORS = [
  '.top h1',
  '.top-controls label',
  '#view-select',
  '#live-caption',
  '#live-totals dt',
  '#live-totals dd',
  '#alerts-title',
  '#calendar button.period',
  '#period-title',
  '.measure-pick label',
  '#measure-select',
  '#kind-legend li',
  '#revisions thead th',
  '#revisions button',
  '.compare-controls legend',
  '#from-select',
  '#to-select',
  '#swap',
  '#sides thead th',
  '#download',
  '#comparison th button.sort',
  '#comparison .explain-button',
  '#events thead th',
  '#reliability > summary',
]

/**
 * Evaluated in the page: every option of the page's selects whose text is wider than its select
 * can show (the select's inner width less its padding and the drop-down arrow), as
 * "#id "text": width". A select shows its chosen option cut at its right edge.
 */
const CLIPPED_OPTIONS = `(() => {
  const out = []
  const context = document.createElement('canvas').getContext('2d')
  for (const select of document.querySelectorAll('select')) {
    if (!select.checkVisibility()) continue
    const style = getComputedStyle(select)
    context.font = style.font
    // Chromium draws its arrow in about 20 px at the right of the padding box.
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20
    for (const option of select.options) {
      const width = context.measureText(option.text).width
      if (width > room + 0.5) out.push('#' + select.id + ' ' + JSON.stringify(option.text) + ': ' + width + ' px in ' + room)
    }
  }
  return out
})()`

/**
 * Evaluated in the page (the test is type-checked without the DOM library): every element of
 * `selectors` that is cut off, as "selector[i] "text": why". An element is cut off when its content
 * is wider than its box, or its box leaves the viewport or its card; one inside a scrolling table
 * is first scrolled into view, and must then lie inside the table's scrolling box.
 */
function clippedScript(selectors: readonly string[]): string {
  return `(() => {
    const out = []
    const outside = (r, c) => r.left < c.left - 0.5 || r.right > c.right + 0.5 || r.top < c.top - 0.5 || r.bottom > c.bottom + 0.5
    for (const selector of ${JSON.stringify(selectors)}) {
      const found = [...document.querySelectorAll(selector)].filter((e) => e.checkVisibility())
      if (found.length === 0) out.push(selector + ': none shown')
      found.forEach((e, i) => {
        const name = selector + '[' + i + '] ' + JSON.stringify(e.textContent.trim().slice(0, 24))
        if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth) out.push(name + ': content ' + e.scrollWidth + ' px in a box of ' + e.clientWidth)
        const scroller = e.parentElement.closest('.table-scroll')
        if (scroller) {
          e.scrollIntoView({ block: 'nearest' })
          const r = e.getBoundingClientRect()
          const s = scroller.getBoundingClientRect()
          const left = s.left + scroller.clientLeft
          const right = left + scroller.clientWidth
          if (r.right > right) scroller.scrollLeft += r.right - right
          if (r.left < left) scroller.scrollLeft -= left - r.left
        }
        const r = e.getBoundingClientRect()
        if (r.left < -0.5 || r.right > innerWidth + 0.5) out.push(name + ': leaves the viewport (' + r.left + ' to ' + r.right + ')')
        const card = e.closest('.card, .live, .periods, .top, .period-head')
        if (card && outside(r, card.getBoundingClientRect())) out.push(name + ': leaves its ' + card.className)
        if (scroller) {
          const s = scroller.getBoundingClientRect()
          const inner = { left: s.left + scroller.clientLeft, right: s.left + scroller.clientLeft + scroller.clientWidth, top: s.top, bottom: s.bottom }
          if (r.left < inner.left - 0.5 || r.right > inner.right + 0.5) out.push(name + ': leaves its scrolling table box')
        }
      })
    }
    return out
  })()`
}

/** Evaluated in the page: the texts of the timeline chart that overlap another text or a dot. */
const OVERLAPS = `(() => {
  const boxes = (selector) => [...document.querySelectorAll(selector)].map((e) => ({ name: e.textContent || e.tagName, r: e.getBoundingClientRect() }))
  const texts = boxes('#chart svg text')
  const dots = boxes('#chart svg circle')
  const meet = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5
  const out = []
  texts.forEach((a, i) => {
    for (const b of texts.slice(i + 1)) if (meet(a.r, b.r)) out.push(a.name + ' / ' + b.name)
    for (const d of dots) if (meet(a.r, d.r)) out.push(a.name + ' / a dot')
  })
  return out
})()`

/**
 * Presses Tab from the top of the page until the focus is in `selector`: the elements it stopped
 * at, as tag#id or tag.class, the last one in `selector`.
 */
async function tabStops(page: Page, selector: string): Promise<string[]> {
  await page.evaluate('document.activeElement?.blur(); window.scrollTo(0, 0)')
  const stops: string[] = []
  for (let presses = 1; presses <= 100; presses++) {
    await page.keyboard.press('Tab')
    stops.push(await page.evaluate(`(() => { const e = document.activeElement; return e.tagName.toLowerCase() + (e.id ? '#' + e.id : e.classList.length ? '.' + e.classList[0] : '') })()`))
    if (await page.evaluate(`!!document.activeElement?.closest(${JSON.stringify(selector)})`)) return stops
  }
  throw new Error(`no focus in ${selector} after 100 Tab presses: ${stops.join(', ')}`)
}

/** The description of the focused element: its tag, id or class and text. */
function focused(page: Page): Promise<string> {
  return page.evaluate(`(() => { const e = document.activeElement; return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + (e.getAttribute('aria-label') ?? e.textContent.trim()) })()`)
}

const browserMissing = !existsSync(CHROMIUM)

/** The README's pictures of the page, each at the width it claims (a PNG's width is in its IHDR chunk, bytes 16–19). */
function docsPictures(): void {
  const widths = ['analyst.png', 'analyst-390.png', 'analyst-1280.png', 'analyst-empty-390.png', 'analyst-empty-1280.png'].map((name) => {
    const png = readFileSync(join(DOCS, name))
    assert.is(png.subarray(1, 4).toString('latin1'), 'PNG', name)
    return [name, png.readUInt32BE(16)]
  })
  assert.equal(widths, [
    ['analyst.png', 1440],
    ['analyst-390.png', 390],
    ['analyst-1280.png', 1280],
    ['analyst-empty-390.png', 390],
    ['analyst-empty-1280.png', 1280],
  ])
}
const DOCS_PICTURES = "docs/ holds the README's screenshots at 1440, 390 and 1280 px (LATEVIEW_UPDATE_DOCS=1 retakes them)"

if (browserMissing && !process.env.CI) {
  const skipped = suite('ui analyst page')
  skipped(`skipped: no browser at ${CHROMIUM}; install Debian's chromium (apt-get install chromium) to run the browser tests`, () => {
    console.log(`ui analyst page: SKIPPED, ${CHROMIUM} is missing (apt-get install chromium). Under CI this is a failure.`)
  })
  skipped(DOCS_PICTURES, docsPictures)
  skipped.skip('the page compares revisions 1 and 3 and lists the explaining events', () => {})
  skipped.skip('with auth on, the page asks for a token once and then loads the views', () => {})
  skipped.skip("with auth on, Download CSV fetches the server's CSV with the token", () => {})
  skipped.skip('at 390 × 844 and 1280 × 800: no sideways scroll, nothing cut off, chart labels apart, 7 tab stops before the comparison', () => {})
  skipped.skip('an empty store: the page shows the commands that send events, then the period they fill', () => {})
  skipped.run()
} else {
  const test = suite<Context>('ui analyst page', {} as Context)

  test.before(async (ctx) => {
    try {
      if (browserMissing) throw new Error(`Chromium is missing at ${CHROMIUM}: .ci/run installs it with apt-get install chromium`)
      ctx.dir = mkdtempSync(join(tmpdir(), 'lateview-ui-'))
      const db = join(ctx.dir, 'demo.db')
      await buildDemoStore(db)
      ctx.authDb = join(ctx.dir, 'auth-demo.db')
      copyFileSync(db, ctx.authDb)
      ctx.server = await startServer(serverEnv(db))
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

  test(DOCS_PICTURES, docsPictures)

  test('the page compares revisions 1 and 3 and lists the explaining events', async (ctx) => {
    if (ctx.failure) throw ctx.failure
    const { server, browser } = ctx

    const status = await getJson<{ status: { periods: Record<string, string[]> } }>(server, `/v1/views/${VIEW}`)
    const { period, diff } = await comparedPeriod(server)
    const before = await getJson<ReportDoc>(server, `/v1/views/${VIEW}/periods/${period}?revision=1`)
    const after = await getJson<ReportDoc>(server, `/v1/views/${VIEW}/periods/${period}?revision=3`)
    const change = [...diff.changes].sort((a, b) => b.events.length - a.events.length)[0] as Change
    const rowKey = ['store', 'channel'].map((d) => encodeURIComponent(String(change.dims[d]))).join('/')
    // The diff agrees with the two reports it compares.
    const reportRow = (doc: ReportDoc) => doc.rows.find((r) => r.dims.store === change.dims.store && r.dims.channel === change.dims.channel)?.measures ?? null
    assert.equal(change.before, reportRow(before))
    assert.equal(change.after, reportRow(after))

    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      await page.goto(`${server.address}/`)
      await page.locator('#view-select option').first().waitFor({ state: 'attached' })
      await page.selectOption('#view-select', VIEW)
      await page.locator(`#calendar button.period[data-period="${period}"]`).click()
      await page.locator('#revisions tbody tr[data-revision="3"]').waitFor()
      await page.selectOption('#from-select', '1')
      await page.selectOption('#to-select', '3')
      await page.locator('#comparison thead th[data-col="after"]', { hasText: 'rev 3' }).waitFor()
      await page.locator('#comparison thead th[data-col="before"]', { hasText: 'rev 1' }).waitFor()

      // The rows: every changed row of the diff is highlighted, with its figures.
      const row = page.locator(`#comparison tbody tr[data-key="${rowKey}"]`)
      await row.waitFor()
      assert.is(await page.locator('#comparison tbody tr.changed').count(), diff.changes.length)
      assert.is(shown(await cellText(page, `#comparison tbody tr[data-key="${rowKey}"] td[data-col="before"]`)), cents(change.before?.revenue))
      assert.is(shown(await cellText(page, `#comparison tbody tr[data-key="${rowKey}"] td[data-col="after"]`)), cents(change.after?.revenue))
      assert.is(shown(await cellText(page, `#comparison tbody tr[data-key="${rowKey}"] td[data-col="delta"]`)), cents(change.delta.revenue))
      // The totals and their change are the diff's; its sides' totals are the reports' own.
      assert.equal([diff.totals.before, diff.totals.after], [before.totals.measures, after.totals.measures])
      assert.is(shown(await cellText(page, '#comparison tfoot td[data-col="before"]')), cents(diff.totals.before.revenue))
      assert.is(shown(await cellText(page, '#comparison tfoot td[data-col="after"]')), cents(diff.totals.after.revenue))
      assert.is(shown(await cellText(page, '#comparison tfoot td[data-col="delta"]')), cents(diff.totals.delta.revenue))
      assert.equal((await page.locator('#sides tr[data-line="total"] td').allTextContents()).map(shown), [diff.totals.before.revenue, diff.totals.after.revenue, diff.totals.delta.revenue].map(cents))
      // Both sides' late-event counts, side by side.
      assert.is(shown(await cellText(page, '#sides tr[data-line="late"] td[data-side="before"]')), before.lateEventCount)
      assert.is(shown(await cellText(page, '#sides tr[data-line="late"] td[data-side="after"]')), after.lateEventCount)

      // Sorting by a column header marks it with aria-sort.
      await page.locator('#comparison thead th[data-col="delta"] button').click()
      assert.is(await page.locator('#comparison thead th[data-col="delta"]').getAttribute('aria-sort'), 'ascending')
      await page.locator('#comparison thead th[data-col="delta"] button').click()
      assert.is(await page.locator('#comparison thead th[data-col="delta"]').getAttribute('aria-sort'), 'descending')

      // Enter on the changed row's button lists the events that explain it.
      await row.locator('.explain-button').focus()
      await page.keyboard.press('Enter')
      const events = page.locator('#events tbody tr')
      await page.locator('#events').waitFor({ state: 'visible' })
      assert.is(await events.count(), change.events.length)
      const first = change.events[0] as DiffEvent
      assert.is(await events.first().getAttribute('data-event-id'), first.id)
      assert.is((await events.first().locator('td').first().textContent())?.trim(), first.id)
      const contributions = await page.locator('#events tbody tr td:nth-child(6)').allTextContents()
      assert.equal(
        contributions.map(shown),
        change.events.map((e) => cents(e.contribution.revenue)),
      )

      // The URL holds the state; opening it elsewhere restores it.
      const url = page.url()
      const hash = new URLSearchParams(new URL(url).hash.slice(1))
      assert.equal({ view: hash.get('view'), period: hash.get('period'), from: hash.get('from'), to: hash.get('to'), row: hash.get('row') }, { view: VIEW, period, from: '1', to: '3', row: rowKey })

      // Download CSV saves the server's comparison CSV: a header, one line per row shown, no total line.
      const csv = await downloadCsv(page, ctx.dir, 'shown.csv')
      assert.is(csv.file, `${VIEW}-${period}-revenue-1-vs-3.csv`)
      assert.is(csv.text, await getText(server, `/v1/views/${VIEW}/periods/${period}/diff?from=1&to=3&format=csv`))
      const lines = csv.text.trim().split('\r\n')
      const shownRows = await page.locator('#comparison tbody tr').count()
      assert.is(lines.length, shownRows + 1)
      assert.is(lines[0], 'store,channel,revenue_before,revenue_after,revenue_delta,orders_before,orders_after,orders_delta,largest_before,largest_after,largest_delta,events,status')
      const figures = ['revenue', 'orders', 'largest'].flatMap((m) => [change.before?.[m], change.after?.[m], change.delta[m]].map((v) => (v === null || v === undefined ? '' : String(v))))
      assert.ok(lines.includes([change.dims.store, change.dims.channel, ...figures, change.events.length, 'changed'].join(',')), lines.join('\n'))

      // The live figures are the server's totals: the strip's of the latest period, the timeline's "now" of this one.
      const periods = Object.values(status.status.periods).flat().sort()
      const latest = periods[periods.length - 1] as string
      const liveLatest = await getJson<{ totals: Totals }>(server, `/v1/views/${VIEW}/realtime?from=${latest}&to=${latest}`)
      await page.locator('#live-totals dd[data-measure="revenue"]').waitFor()
      for (const m of ['revenue', 'orders', 'largest']) {
        assert.is(shown(await cellText(page, `#live-totals dd[data-measure="${m}"]`)), cents(liveLatest.totals.measures[m]), m)
      }
      assert.is(shown(await cellText(page, '#live-totals dd[data-count="events"]')), liveLatest.totals.eventCount)
      const live = await getJson<{ totals: Totals }>(server, `/v1/views/${VIEW}/realtime?from=${period}&to=${period}`)
      const last = await getJson<ReportDoc>(server, `/v1/views/${VIEW}/periods/${period}`)
      const now = page.locator('#revisions tr.now-row td')
      assert.is(shown(await now.nth(4).textContent()), live.totals.eventCount)
      assert.is(shown(await now.nth(7).textContent()), cents(live.totals.measures.revenue))
      const nowChange = (Math.round((live.totals.measures.revenue ?? NaN) * 100) - Math.round((last.totals.measures.revenue ?? NaN) * 100)) / 100
      const nowChangeText = (await now.nth(8).textContent()) ?? ''
      assert.ok(nowChangeText.trim() !== '', 'the now row shows its change since the last revision')
      assert.is(shown(nowChangeText), nowChange)

      await page.evaluate('window.scrollTo(0, 0)')
      await page.screenshot({ path: join(SHOTS, 'analyst.png'), fullPage: true })

      const again = await context.newPage()
      await again.goto(url)
      await again.locator('#events tbody tr').first().waitFor()
      assert.is(await again.locator('#events tbody tr').count(), change.events.length)
      assert.is(await again.locator(`#comparison tbody tr.selected`).getAttribute('data-key'), rowKey)
      assert.equal(errors, [])
    } finally {
      await context.close()
    }
  })

  test('with auth on, the page asks for a token once and then loads the views', async (ctx) => {
    if (ctx.failure) throw ctx.failure
    const tokens = join(ctx.dir, 'tokens.json')
    writeFileSync(tokens, JSON.stringify({ [TOKEN]: ['read'] }))
    const server = await startServer(serverEnv(join(ctx.dir, 'auth.db'), { LATEVIEW_TOKENS: tokens }))
    const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 800 } })
    try {
      const page = await context.newPage()
      await page.goto(`${server.address}/`)
      await page.locator('#token-form').waitFor({ state: 'visible' })
      assert.ok(await page.locator('#app').isHidden())
      assert.match(await cellText(page, '#auth-problem'), 'Authorization: Bearer')

      await page.fill('#token-input', 'not-the-token-at-all-000')
      await page.press('#token-input', 'Enter')
      await page.locator('#auth-problem', { hasText: 'refused' }).waitFor()
      assert.ok(await page.locator('#token-form').isVisible())

      await page.fill('#token-input', TOKEN)
      await page.click('#token-form button[type="submit"]')
      await page.locator('#app').waitFor({ state: 'visible' })
      const views = await getJson<{ views: Array<{ name: string }> }>(server, '/v1/views', TOKEN)
      assert.equal(
        await page.locator('#view-select option').allTextContents(),
        views.views.map((v) => v.name),
      )
      assert.ok(await page.locator('#auth').isHidden())
      // A string, evaluated in the page: the test is type-checked without the DOM library.
      assert.is(await page.evaluate('sessionStorage.getItem("lateview.token")'), TOKEN)

      // Entered once: a reload in the same tab goes straight to the page.
      await page.reload()
      await page.locator('#view-select option').first().waitFor({ state: 'attached' })
      assert.ok(await page.locator('#auth').isHidden())
    } finally {
      await context.close()
      await server.close()
    }
  })

  test("with auth on, Download CSV fetches the server's CSV with the token", async (ctx) => {
    if (ctx.failure) throw ctx.failure
    const tokens = join(ctx.dir, 'tokens-csv.json')
    writeFileSync(tokens, JSON.stringify({ [TOKEN]: ['read'] }))
    const server = await startServer(serverEnv(ctx.authDb, { LATEVIEW_TOKENS: tokens }))
    const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true })
    try {
      const { period } = await comparedPeriod(server, TOKEN)
      const path = `/v1/views/${VIEW}/periods/${period}/diff?from=1&to=3&format=csv`
      // Without the token the CSV is refused: a download that matches it was fetched with the token.
      assert.is((await fetch(`${server.address}${path}`)).status, 401)
      const page = await context.newPage()
      await page.goto(`${server.address}/#view=${VIEW}&period=${period}&from=1&to=3`)
      await page.locator('#token-form').waitFor({ state: 'visible' })
      await page.fill('#token-input', TOKEN)
      await page.click('#token-form button[type="submit"]')
      await page.locator('#comparison thead th[data-col="after"]', { hasText: 'rev 3' }).waitFor()
      const csv = await downloadCsv(page, ctx.dir, 'with-token.csv')
      assert.is(csv.file, `${VIEW}-${period}-revenue-1-vs-3.csv`)
      assert.is(csv.text, await getText(server, path, TOKEN))
      assert.ok(await page.locator('#auth').isHidden())
    } finally {
      await context.close()
      await server.close()
    }
  })

  test('at 390 × 844 and 1280 × 800: no sideways scroll, nothing cut off, chart labels apart, 7 tab stops before the comparison', async (ctx) => {
    if (ctx.failure) throw ctx.failure
    const { server, browser } = ctx
    const { period, diff } = await comparedPeriod(server)
    const change = [...diff.changes].sort((a, b) => b.events.length - a.events.length)[0] as Change
    const rowKey = ['store', 'channel'].map((d) => encodeURIComponent(String(change.dims[d]))).join('/')
    for (const size of SIZES) {
      const at = `${size.width} × ${size.height}`
      const context = await browser.newContext({ viewport: size })
      const page = await context.newPage()
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(e.message))
      try {
        await page.goto(`${server.address}/#view=${VIEW}&period=${period}&from=1&to=3&row=${rowKey}`)
        await page.locator('#events tbody tr').first().waitFor()
        await page.locator('#live-totals dd[data-count="events"]').waitFor()
        await page.locator('#alerts button.link').first().waitFor()
        // Before the checks below scroll the tables.
        await page.screenshot({ path: join(SHOTS, `analyst-${size.width}.png`), fullPage: true })

        assert.equal(await page.evaluate('[document.documentElement.scrollWidth, innerWidth]'), [size.width, size.width], `${at}: the page scrolls sideways`)
        assert.equal(await page.evaluate(clippedScript(KEY_SELECTORS)), [], `${at}: cut off`)
        assert.equal(await page.evaluate(CLIPPED_OPTIONS), [], `${at}: an option cut off in its select`)
        // Wide tables scroll inside their cards on a phone; on a laptop they fit.
        const tables = await page.evaluate<Array<[string, boolean]>>(
          `['revisions', 'sides', 'comparison', 'events'].map((id) => { const w = document.getElementById(id).closest('.table-scroll'); return [id, w.scrollWidth > w.clientWidth] })`,
        )
        const scrolls = size.width === 390
        assert.equal(
          tables,
          [
            ['revisions', scrolls],
            ['sides', scrolls],
            ['comparison', scrolls],
            ['events', scrolls],
          ],
          `${at}: tables scrolling sideways`,
        )

        // The chart's labels: none covers another text or a dot; the flash keeps its label.
        assert.equal(await page.evaluate(OVERLAPS), [], `${at}: overlapping chart labels`)
        assert.is(await page.locator('#chart text.point-label', { hasText: 'r1 flash' }).count(), 1)
        assert.ok((await page.locator('#chart text.point-label').count()) >= 3, `${at}: few point labels`)
        assert.ok(await page.locator('#chart text.mark-label', { hasText: 'before: rev 1' }).isVisible())
        assert.ok(await page.locator('#chart text.mark-label', { hasText: 'after: rev 3' }).isVisible())

        // Seven tab stops precede the comparison: the revisions table is one of them.
        assert.equal(
          await tabStops(page, '.compare-controls'),
          ['a.skip-link', 'select#view-select', 'button.link', 'ol#alerts', 'button.period', 'select#measure-select', 'button.side-button', 'select#from-select'],
          at,
        )
        // In the table (a grid), arrow keys move between cells; Enter and Space press a button,
        // which keeps the focus through the redraw it causes.
        await page.keyboard.press('Shift+Tab')
        assert.is(await focused(page), 'button Use revision 3 as after')
        await page.keyboard.press('ArrowUp')
        assert.is(await focused(page), 'button Use revision 2 as after')
        await page.keyboard.press('Enter')
        await page.locator('#comparison thead th[data-col="after"]', { hasText: 'rev 2' }).waitFor()
        assert.is(await page.inputValue('#to-select'), '2')
        assert.is(await focused(page), 'button Use revision 2 as after')
        assert.is(await page.locator('#revisions tr[data-revision="2"] button[aria-pressed="true"]').textContent(), 'after')
        await page.keyboard.press('ArrowLeft')
        await page.keyboard.press('ArrowDown')
        assert.is(await focused(page), 'button Use revision 3 as before')
        await page.keyboard.press('Space')
        await page.locator('#comparison thead th[data-col="before"]', { hasText: 'rev 3' }).waitFor()
        assert.equal([await page.inputValue('#from-select'), await page.inputValue('#to-select')], ['3', '2'])
        await page.keyboard.press('Home')
        assert.is(await focused(page), 'td 3')
        await page.keyboard.press('Control+Home')
        assert.is(await focused(page), 'th Rev')
        // Still one tab stop: the cell last visited.
        await page.keyboard.press('Tab')
        assert.is(await focused(page), 'select#from-select Before: revision or instant')
        await page.keyboard.press('Shift+Tab')
        assert.is(await focused(page), 'th Rev')
        assert.equal(errors, [])
      } finally {
        await context.close()
      }
    }
  })

  test('an empty store: the page shows the commands that send events, then the period they fill', async (ctx) => {
    if (ctx.failure) throw ctx.failure
    const server = await startServer(serverEnv(join(ctx.dir, 'empty.db')))
    try {
      const { views } = await getJson<{ views: Array<{ name: string; eventTypes: string[] }> }>(server, '/v1/views')
      const view = views[0] as { name: string; eventTypes: string[] }
      const fixture = (Object.keys(FIXTURE_VIEWS) as Array<keyof typeof FIXTURE_VIEWS>).find((k) => FIXTURE_VIEWS[k].view === view.name)
      assert.ok(fixture, `no fixture feeds ${view.name}`)
      const events = generateFixture(fixture, { days: 1, events: 40, seed: 3 })
      assert.ok(
        events.every((e) => view.eventTypes.includes(e.type)),
        `the ${fixture} fixture sends events ${view.name} counts`,
      )
      for (const size of SIZES) {
        const at = `${size.width} × ${size.height}`
        const context = await ctx.browser.newContext({ viewport: size })
        const page = await context.newPage()
        try {
          await page.goto(`${server.address}/`)
          await page.locator('#period-empty').waitFor({ state: 'visible' })
          assert.is(await cellText(page, '#period-empty h2'), 'No events yet')
          assert.is(
            await cellText(page, '#empty-intro'),
            `${view.name} has received no events, so it has no periods to show. Send some from a terminal, for example three days of the sample ${fixture === 'retail' ? 'retail chain' : 'lab network'}:`,
          )
          assert.is(await cellText(page, '#empty-ingest'), `npx lateview fixtures ${fixture} --days 3 | npx lateview ingest -`)
          assert.is(
            await cellText(page, '#empty-post'),
            [
              `npx lateview fixtures ${fixture} --days 3 > /tmp/${fixture}.ndjson`,
              `curl -s -X POST ${server.address}/v1/events \\`,
              `  -H 'content-type: application/x-ndjson' --data-binary @/tmp/${fixture}.ndjson`,
            ].join('\n'),
          )
          assert.is(await cellText(page, '#calendar'), 'No periods yet: this view has received no events.')
          assert.not.match(await cellText(page, 'main'), 'Pick a period on the left')
          assert.ok(await page.locator('#period-content').isHidden())
          assert.ok(await page.locator('#periods-help').isHidden())
          assert.equal(await page.evaluate('[document.documentElement.scrollWidth, innerWidth]'), [size.width, size.width], `${at}: the page scrolls sideways`)
          assert.equal(await page.evaluate(clippedScript(['#period-empty h2', '#empty-intro', '#empty-ingest', '#empty-post', '#live-caption', '.periods h2', '#calendar p'])), [], `${at}: cut off`)
          await page.screenshot({ path: join(SHOTS, `analyst-empty-${size.width}.png`), fullPage: true })
        } finally {
          await context.close()
        }
      }

      // The events arrive: the page shows their period, without a reload.
      const context = await ctx.browser.newContext({ viewport: SIZES[1] })
      try {
        const page = await context.newPage()
        await page.goto(`${server.address}/`)
        await page.locator('#period-empty').waitFor({ state: 'visible' })
        const res = await fetch(`${server.address}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body: events.map((e) => JSON.stringify(e)).join('\n'),
        })
        assert.is(res.status, 200, await res.text())
        await page.locator('#period-content').waitFor({ state: 'visible', timeout: 15_000 })
        assert.ok(await page.locator('#period-empty').isHidden())
        assert.ok((await page.locator('#calendar button.period').count()) > 0)
        assert.ok(await page.locator('#periods-help').isVisible())
      } finally {
        await context.close()
      }
    } finally {
      await server.close()
    }
  })

  test.run()
}
