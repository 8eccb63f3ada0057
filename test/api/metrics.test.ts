/**
 * GET /metrics of a running server, as Prometheus scrapes it: after an ingest, a job run and a
 * webhook delivery that took two attempts, the text passes `promtool check metrics` and the job
 * and delivery metrics hold exactly what happened. The last-success gauge is read from the store,
 * so a second server over the same store shows the first one's run too.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../src/config.js'
import { startServer } from '../../src/server.js'
import type { JobRun } from '../../src/services/jobs.js'
import { VIEWS_DIR, iso, sale } from '../helpers/alert-fixtures.js'
import { engines } from '../helpers/engines.js'
import { serverDatabase } from '../helpers/server-db.js'
import { until, WebhookReceiver } from '../helpers/webhook-receiver.js'

const PROMTOOL = '/usr/bin/promtool'

/** The problems promtool finds in an exposition (empty: none), or null when promtool is not installed outside CI. */
function promtoolProblems(text: string): string[] | null {
  if (!existsSync(PROMTOOL)) {
    if (process.env.CI) throw new Error(`${PROMTOOL} is required under CI (apt-get install prometheus)`)
    console.warn(`! ${PROMTOOL} is not installed: the exposition is not checked by promtool`)
    return null
  }
  const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' })
  const problems = `${run.stdout}${run.stderr}`.split('\n').filter((line) => line.trim() !== '')
  return run.status === 0 ? problems : [`exit ${run.status}`, ...problems]
}

/** The sample lines of the families named, in exposition order. */
function familyLines(text: string, ...names: string[]): string[] {
  return text.split('\n').filter((line) => !line.startsWith('#') && names.some((n) => line.startsWith(`${n}{`) || line.startsWith(`${n} `)))
}

for (const factory of await engines()) {
  const test = suite(`api metrics (${factory.name})`)

  test('a running server: promtool accepts /metrics; job runs, their last success, delivery attempts and deliveries are exact', async () => {
    const db = serverDatabase(factory.name)
    // The first attempt gets a 500, the second (50 ms later) a 204.
    const receiver = await WebhookReceiver.scripted([{ status: 500 }])
    const config = loadConfig({ LATEVIEW_DB: db.location, LATEVIEW_VIEWS: VIEWS_DIR, PORT: '0', LATEVIEW_LOG_LEVEL: 'silent', LATEVIEW_SCHEDULER: 'off', LATEVIEW_WEBHOOK_BACKOFF: '0,50ms,50ms' })
    const scrape = async (address: string) => {
      const res = await fetch(`${address}/metrics`)
      assert.is(res.status, 200)
      return res.text()
    }
    try {
      const server = await startServer(config)
      let run: JobRun
      try {
        const call = async (method: string, path: string, body?: unknown) => {
          const res = await fetch(`${server.address}${path}`, {
            method,
            headers: body === undefined ? {} : { 'content-type': 'application/json' },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          })
          return { status: res.status, body: (await res.json()) as Record<string, unknown> }
        }
        const hook = await call('POST', '/v1/webhooks', { url: receiver.url(), kinds: ['DelayedEvent'] })
        assert.is(hook.status, 201, JSON.stringify(hook.body))
        // A sale at the shop a minute ago, and a web sale an hour late (over online-*'s PT5M).
        const now = Date.now()
        const ingested = await call('POST', '/v1/events', [sale('s1', 'store-001', iso(now - 60_000), 10), sale('w1', 'online-1', iso(now - 3_600_000), 5)])
        assert.equal([ingested.status, ingested.body.accepted, (ingested.body.alerts as Array<{ type: string }>).map((a) => a.type)], [200, 2, ['DelayedEvent']])
        const period = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Taipei' }).format(new Date(now - 60_000))
        const flash = await call('POST', '/v1/jobs/flash', { view: 'daily_revenue', period })
        assert.is(flash.status, 200, JSON.stringify(flash.body))
        const runs = flash.body.runs as JobRun[]
        assert.equal(
          runs.map((r) => [r.job, r.view, r.period, r.outcome]),
          [['flash', 'daily_revenue', period, 'published']],
        )
        run = runs[0] as JobRun
        await until('the delivery', async () => {
          const { body } = await call('GET', `/v1/webhooks/${hook.body.id}/deliveries`)
          const [d] = body.deliveries as Array<{ status: string }>
          return d?.status === 'delivered' ? true : undefined
        })

        const text = await scrape(server.address)
        assert.equal(promtoolProblems(text) ?? [], [])
        // The gauges prom-client names *_total are left out; their by-type gauges stay.
        assert.not.match(text, /^lateview_nodejs_active_(handles|requests|resources)_total/m)
        assert.match(text, /^# TYPE lateview_nodejs_active_handles gauge$/m)

        const endedAt = (Date.parse(run.startedAt) + run.durationMs) / 1000
        assert.equal(familyLines(text, 'lateview_job_runs_total', 'lateview_job_run_duration_seconds_count', 'lateview_job_run_duration_seconds_sum', 'lateview_job_last_success_timestamp_seconds'), [
          'lateview_job_runs_total{job="flash",outcome="published"} 1',
          `lateview_job_run_duration_seconds_sum{job="flash"} ${run.durationMs / 1000}`,
          'lateview_job_run_duration_seconds_count{job="flash"} 1',
          `lateview_job_last_success_timestamp_seconds{job="flash",view="daily_revenue"} ${endedAt}`,
        ])
        assert.equal(familyLines(text, 'lateview_webhook_deliveries_total', 'lateview_webhook_delivery_attempts_total', 'lateview_webhook_deliveries_pending'), [
          'lateview_webhook_deliveries_total{outcome="delivered"} 1',
          'lateview_webhook_delivery_attempts_total{outcome="retry"} 1',
          'lateview_webhook_delivery_attempts_total{outcome="delivered"} 1',
          'lateview_webhook_deliveries_pending 0',
        ])
        assert.equal(familyLines(text, 'lateview_events_ingested_total'), ['lateview_events_ingested_total{outcome="accepted"} 2', 'lateview_events_ingested_total{outcome="duplicate"} 0'])
        assert.is(receiver.requests.length, 2)
      } finally {
        await server.close()
      }

      // Another process over the same store: it ran nothing and delivered nothing, but the last
      // success is the store's.
      const second = await startServer(config)
      try {
        const text = await scrape(second.address)
        assert.equal(promtoolProblems(text) ?? [], [])
        assert.equal(familyLines(text, 'lateview_job_runs_total', 'lateview_job_last_success_timestamp_seconds', 'lateview_webhook_deliveries_total'), [
          `lateview_job_last_success_timestamp_seconds{job="flash",view="daily_revenue"} ${(Date.parse(run.startedAt) + run.durationMs) / 1000}`,
        ])
      } finally {
        await second.close()
      }
    } finally {
      await receiver.close()
      await db.cleanup()
    }
  })

  test.run()
}
