/**
 * Webhook delivery survives a crash at any step. A child process (test/helpers/delivery-child.ts)
 * runs a dispatcher over a store holding three alerts for a receiver that answers 500 to the
 * first request of each delivery and 200 after, and kills itself with SIGKILL at one step of one
 * attempt: before the request, after the receiver answered, after the attempt row, before and
 * after the record's commit. The store must be consistent at that instant; a new dispatcher over
 * the same store then delivers everything, with no error logged and an attempts log numbered
 * 1..n per delivery.
 *
 * The short form (CI) crashes at each step of the first retry, the 200 that follows a 500 (the
 * case of the report that a delivery stayed pending for good). LATEVIEW_TEST_CRASH_LONG=1 crashes
 * at each step of each of the six attempts. A child spends a second or two loading its modules:
 * runs go four at a time.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { NewAlert } from '../../src/domain/alerts.js'
import { systemClock } from '../../src/domain/clock.js'
import { newSecret, WebhookDispatcher } from '../../src/services/webhooks.js'
import { insertWebhook, raiseAlerts } from '../../src/store/alerts.js'
import { openEngine, type Engine } from '../../src/store/engine.js'
import type { DeliveriesTable, DeliveryAttemptsTable } from '../../src/store/schema.js'
import { storeLocations, type StoreLocation } from '../helpers/store-locations.js'
import { sleep, until, WebhookReceiver } from '../helpers/webhook-receiver.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CHILD = fileURLToPath(new URL('../helpers/delivery-child.ts', import.meta.url))
const NOW = Date.parse('2026-11-26T12:00:00Z')
const STEPS = ['before-request', 'after-response', 'after-attempt-row', 'before-commit', 'after-commit'] as const
type Step = (typeof STEPS)[number]
const ALERTS = 3
/** Which occurrence of a step dies: attempts 1-3 are the deliveries' first (answered 500), 4-6 their retries (200). */
const OCCURRENCES = process.env.LATEVIEW_TEST_CRASH_LONG ? [1, 2, 3, 4, 5, 6] : [4]
/** The lease outlives the timeout, and is short so the new dispatcher takes over soon. */
const SETTINGS = { backoff: [0, 50, 50, 50], timeoutMs: 800, leaseMs: 1000, deadlineMs: 10_000 }

interface ChildLine {
  event: 'ready' | 'crash' | 'log'
  step?: Step
  n?: number
  delivery?: string | null
  message?: string
}

/** Runs the child over `location` until it dies (or gives up), with its output lines. */
function runChild(location: string, crashAt: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: ChildLine[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(SETTINGS)], {
      cwd: ROOT,
      env: { ...process.env, LATEVIEW_DB: location, LATEVIEW_TEST_CRASH_AT: crashAt },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as ChildLine)
      resolve({ code, signal, lines, stderr })
    })
  })
}

/** A store holding one subscription to `url` and ALERTS alerts, each with a pending delivery. */
async function seed(location: string, url: string): Promise<void> {
  const engine = await openEngine(location)
  try {
    await insertWebhook(engine.db, url, null, newSecret(), NOW)
    const alerts: NewAlert[] = Array.from({ length: ALERTS }, (_, i) => ({
      kind: 'JobFailed',
      view: 'daily_revenue',
      period: `2026-11-0${i + 1}`,
      source: null,
      data: { job: 'consolidate', trigger: 'cron', now: new Date(NOW).toISOString(), error: `failure ${i + 1}` },
    }))
    await engine.write((tx) => raiseAlerts(tx.db, alerts, NOW))
  } finally {
    await engine.close()
  }
}

async function readStore(engine: Engine): Promise<{ deliveries: DeliveriesTable[]; attempts: DeliveryAttemptsTable[] }> {
  const deliveries = await engine.db.kysely.selectFrom('deliveries').selectAll().orderBy('alert_id').execute()
  const attempts = await engine.db.kysely.selectFrom('delivery_attempts').selectAll().orderBy('delivery_id').orderBy('attempt').execute()
  return { deliveries: deliveries as DeliveriesTable[], attempts }
}

/** Every delivery's log is numbered 1..n with no gap or repeat, and its counter says n. */
function assertConsistent(deliveries: DeliveriesTable[], attempts: DeliveryAttemptsTable[], when: string): void {
  assert.is(deliveries.length, ALERTS, when)
  for (const d of deliveries) {
    const numbers = attempts.filter((a) => a.delivery_id === d.id).map((a) => Number(a.attempt))
    assert.equal(
      numbers,
      Array.from({ length: numbers.length }, (_, i) => i + 1),
      `${when}: attempts of ${d.id}`,
    )
    assert.is(Number(d.attempts), numbers.length, `${when}: counter of ${d.id}`)
  }
  const known = new Set(deliveries.map((d) => d.id))
  assert.ok(
    attempts.every((a) => known.has(a.delivery_id)),
    `${when}: an attempt of no delivery`,
  )
}

/** Crashes a dispatcher at the nth occurrence of `step`, then lets a new one finish the job. */
async function crashAndRecover(locations: StoreLocation, step: Step, n: number): Promise<void> {
  const what = `${step}@${n}`
  const location = locations.next()
  // The answers given to each webhook-id, in order.
  const answers = new Map<string, number[]>()
  const receiver = await WebhookReceiver.start((request) => {
    const id = String(request.headers['webhook-id'])
    const given = answers.get(id) ?? []
    const status = given.length === 0 ? 500 : 200
    answers.set(id, [...given, status])
    return { status }
  })
  try {
    await seed(location, receiver.url())
    const child = await runChild(location, what)
    assert.equal([child.code, child.signal], [null, 'SIGKILL'], `${what}: the child did not die by SIGKILL: ${child.stderr}`)
    const crash = child.lines.find((l) => l.event === 'crash')
    assert.equal([crash?.step, crash?.n], [step, n], `${what}: ${JSON.stringify(child.lines)}`)
    assert.equal(
      child.lines.filter((l) => l.event === 'log'),
      [],
      `${what}: the crashed dispatcher logged`,
    )

    const engine = await openEngine(location)
    try {
      // The instant of the crash, as the store keeps it.
      const before = await readStore(engine)
      assertConsistent(before.deliveries, before.attempts, `${what}, after the crash`)
      const recorded = before.attempts.length
      if (step === 'after-attempt-row' || step === 'before-commit') assert.is(recorded, n - 1, `${what}: the record in flight was rolled back`)
      if (step === 'after-commit') assert.is(recorded, n, `${what}: the record committed`)
      if (step === 'before-request' || step === 'after-response') {
        const id = crash?.delivery ?? ''
        const logged = before.attempts.filter((a) => a.delivery_id === id).length
        const received = answers.get(id)?.length ?? 0
        assert.is(received, logged + (step === 'after-response' ? 1 : 0), `${what}: requests of ${id} received`)
        const leased = before.deliveries.find((d) => d.id === id)
        assert.equal([leased?.status, leased?.lease_until !== null], ['pending', true], `${what}: ${JSON.stringify(leased)}`)
      }

      const logs: string[] = []
      const dispatcher = new WebhookDispatcher(engine, {
        backoff: SETTINGS.backoff,
        timeoutMs: SETTINGS.timeoutMs,
        leaseMs: SETTINGS.leaseMs,
        clock: systemClock,
        random: () => 0.5,
        log: (message, fields) => logs.push(`${message} ${JSON.stringify(fields)}`),
      })
      dispatcher.start()
      try {
        await until(`${what}: every delivery to settle`, async () => ((await readStore(engine)).deliveries.every((d) => d.status !== 'pending') ? true : undefined), 8000)
        // Nothing is left to send: the receiver hears nothing more.
        const heard = receiver.requests.length
        await sleep(200)
        assert.is(receiver.requests.length, heard, `${what}: requests after every delivery settled`)
      } finally {
        await dispatcher.stop()
      }
      assert.equal(logs, [], `${what}: the new dispatcher logged`)

      const after = await readStore(engine)
      assertConsistent(after.deliveries, after.attempts, `${what}, recovered`)
      assert.equal(
        after.deliveries.map((d) => Number(d.alert_id)),
        [1, 2, 3],
      )
      for (const d of after.deliveries) {
        const log = after.attempts.filter((a) => a.delivery_id === d.id)
        const last = log[log.length - 1]
        assert.equal([d.status, d.last_status_code, d.lease_until, d.lease_token], ['delivered', 200, null, null], `${what}: ${JSON.stringify(d)}`)
        assert.is(d.delivered_at, last?.at, `${what}: delivered at its last attempt`)
        // Delivered once in the log: the 2xx is the last attempt and the only one.
        assert.equal(
          log.map((a) => a.status_code === 200),
          log.map((_, i) => i === log.length - 1),
          `${what}: log of ${d.id}: ${JSON.stringify(log)}`,
        )
        // At least once: every logged attempt reached the receiver, and at most the crashed one is missing from the log.
        const received = answers.get(d.id) ?? []
        assert.ok(received.includes(200), `${what}: ${d.id} never answered 200`)
        assert.ok(received.length >= log.length && received.length <= log.length + 1, `${what}: ${d.id} received ${received.length} times, logged ${log.length}`)
      }
    } finally {
      await engine.close()
    }
  } finally {
    await receiver.close()
  }
}

/** Starts every task, `size` at a time, and hands back each one's outcome: null, or what it threw. */
function pooled(tasks: Array<() => Promise<void>>, size: number): Array<Promise<Error | null>> {
  const waiting: Array<() => void> = []
  let running = 0
  return tasks.map(async (task) => {
    if (running >= size) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
    try {
      await task()
      return null
    } catch (error) {
      return error as Error
    } finally {
      running--
      waiting.shift()?.()
    }
  })
}

for (const locations of await storeLocations()) {
  const test = suite(`alerts/delivery-crash (${locations.name})`)
  const runs = new Map<string, Promise<Error | null>>()
  test.before(() => {
    const keys = STEPS.flatMap((step) => OCCURRENCES.map((n) => ({ step, n })))
    const outcomes = pooled(
      keys.map(
        ({ step, n }) =>
          () =>
            crashAndRecover(locations, step, n),
      ),
      4,
    )
    keys.forEach(({ step, n }, i) => {
      runs.set(`${step}@${n}`, outcomes[i] as Promise<Error | null>)
    })
  })
  test.after(async () => {
    await Promise.all(runs.values())
    await locations.cleanup()
  })

  for (const step of STEPS) {
    test(`a dispatcher killed -9 at ${step} (attempt ${OCCURRENCES.join(', ')}): a new one delivers every alert, none stuck, the log 1..n, no error`, async () => {
      for (const n of OCCURRENCES) {
        const failure = await runs.get(`${step}@${n}`)
        if (failure) throw failure
      }
    })
  }

  test.run()
}
