/**
 * The rules that make webhook delivery safe with several dispatchers and after crashes: a
 * delivery is attempted under a lease only one dispatcher holds; a lease that ran out is taken
 * over; an attempt is recorded (row and delivery, one transaction) only under the lease it was
 * made under, so a late finisher is refused; a delivered delivery stays delivered, once; attempts
 * are numbered from the log. Each store is opened twice, as two processes would.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { NewAlert } from '../../src/domain/alerts.js'
import { ManualClock, systemClock } from '../../src/domain/clock.js'
import { LateviewError } from '../../src/errors.js'
import { newSecret, retryDelivery, WebhookDispatcher, type DispatcherOptions } from '../../src/services/webhooks.js'
import { claimDelivery, insertWebhook, nextDueAt, raiseAlerts, recordAttempt, requeueDelivery, type AttemptOutcome } from '../../src/store/alerts.js'
import { openEngine, type Engine } from '../../src/store/engine.js'
import type { DeliveriesTable } from '../../src/store/schema.js'
import { storeLocations } from '../helpers/store-locations.js'
import { sleep, until, WebhookReceiver } from '../helpers/webhook-receiver.js'

const T = Date.parse('2026-11-26T12:00:00Z')

/** Two engines over one fresh store: two processes' worth of connections. */
async function openTwice(location: string): Promise<{ a: Engine; b: Engine; close(): Promise<void> }> {
  const a = await openEngine(location)
  const b = await openEngine(location)
  return {
    a,
    b,
    async close() {
      await a.close()
      await b.close()
    },
  }
}

/** Subscribes `url` and raises `count` alerts: one pending delivery each, in alert order. */
async function seed(engine: Engine, url: string, count: number): Promise<{ hookId: string; deliveries: DeliveriesTable[] }> {
  const hook = await insertWebhook(engine.db, url, null, newSecret(), T)
  const alerts: NewAlert[] = Array.from({ length: count }, (_, i) => ({
    kind: 'JobFailed',
    view: 'daily_revenue',
    period: `2026-11-${String(i + 1).padStart(2, '0')}`,
    source: null,
    data: { job: 'consolidate', trigger: 'cron', now: new Date(T).toISOString(), error: `failure ${i + 1}` },
  }))
  await engine.write((tx) => raiseAlerts(tx.db, alerts, T))
  return { hookId: hook.id, deliveries: await deliveriesOf(engine) }
}

async function deliveriesOf(engine: Engine): Promise<DeliveriesTable[]> {
  return (await engine.db.kysely.selectFrom('deliveries').selectAll().orderBy('alert_id').execute()) as DeliveriesTable[]
}

async function deliveryOf(engine: Engine, id: string): Promise<DeliveriesTable> {
  return (await engine.db.kysely.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirstOrThrow()) as DeliveriesTable
}

/** A delivery's attempts log as [number, status code]. */
async function logOf(engine: Engine, id: string): Promise<Array<[number, number | null]>> {
  const rows = await engine.db.kysely.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', id).orderBy('attempt').execute()
  return rows.map((r) => [Number(r.attempt), r.status_code === null ? null : Number(r.status_code)])
}

const answered = (statusCode: number, at: number, status: AttemptOutcome['status'], nextAttemptAt = at): AttemptOutcome => ({
  at,
  statusCode,
  error: statusCode >= 200 && statusCode < 300 ? null : `HTTP ${statusCode}`,
  durationMs: 1,
  status,
  nextAttemptAt,
})

function dispatcher(engine: Engine, logs: string[], options: Partial<DispatcherOptions> = {}): WebhookDispatcher {
  return new WebhookDispatcher(engine, {
    backoff: [0, 50, 50],
    // Generous: on a loaded machine a local receiver can take over a second to answer, and a
    // timed-out attempt is a retry, not the single delivery these tests expect.
    timeoutMs: 10_000,
    clock: systemClock,
    random: () => 0.5,
    log: (message, fields) => logs.push(`${message} ${JSON.stringify(fields)}`),
    ...options,
  })
}

for (const locations of await storeLocations()) {
  const test = suite(`alerts/delivery-leases (${locations.name})`)
  test.after(() => locations.cleanup())

  test('two processes claiming the same deliveries at once: one lease wins each, the other is told no', async () => {
    const { a, b, close } = await openTwice(locations.next())
    try {
      const { deliveries } = await seed(a, 'http://127.0.0.1:9/hook', 12)
      for (const d of deliveries) {
        const [fromA, fromB] = await Promise.all([claimDelivery(a.db, d.id, T, T + 1000), claimDelivery(b.db, d.id, T, T + 1000)])
        const winners = [fromA, fromB].filter((c) => c !== null)
        assert.is(winners.length, 1, `${d.id}: ${JSON.stringify([fromA, fromB])}`)
        const stored = await deliveryOf(b, d.id)
        assert.equal([stored.lease_until, stored.lease_token], [T + 1000, winners[0]?.token])
        assert.equal(winners[0]?.delivery, stored)
        // Held: neither may take it again while the lease runs.
        assert.is(await claimDelivery(a.db, d.id, T + 999, T + 2000), null)
        assert.is(await claimDelivery(b.db, d.id, T + 1000, T + 2000), null)
      }
    } finally {
      await close()
    }
  })

  test('two dispatchers racing over the same deliveries: each is sent once, under one webhook-id, and logged once', async () => {
    const { a, b, close } = await openTwice(locations.next())
    const receiver = await WebhookReceiver.start()
    const logs: string[] = []
    try {
      const { deliveries } = await seed(a, receiver.url(), 10)
      const [byA, byB] = await Promise.all([dispatcher(a, logs).tick(), dispatcher(b, logs).tick()])
      assert.is(byA + byB, 10)
      assert.equal(receiver.requests.map((r) => r.headers['webhook-id']).sort(), deliveries.map((d) => d.id).sort())
      for (const d of deliveries) {
        assert.equal(await logOf(b, d.id), [[1, 204]])
        assert.equal([(await deliveryOf(a, d.id)).status, (await deliveryOf(a, d.id)).attempts], ['delivered', 1])
      }
      assert.equal(logs, [])
    } finally {
      await receiver.close()
      await close()
    }
  })

  test('a lease that ran out (its dispatcher died) is taken over by another, which attempts and records without a constraint error', async () => {
    const { a, b, close } = await openTwice(locations.next())
    const receiver = await WebhookReceiver.start()
    const logs: string[] = []
    try {
      const [d] = (await seed(a, receiver.url(), 1)).deliveries as [DeliveriesTable]
      // A claims, then dies: nothing is sent and nothing recorded.
      assert.ok(await claimDelivery(a.db, d.id, T, T + 1000))
      const clock = new ManualClock(T + 500)
      const other = dispatcher(b, logs, { clock })
      assert.is(await other.tick(), 0)
      assert.is(receiver.requests.length, 0)
      // The next wake-up is when the lease has run out, not at once.
      assert.is(await nextDueAt(b.db), T + 1001)
      clock.set(T + 1001)
      assert.is(await other.tick(), 1)
      const taken = await deliveryOf(b, d.id)
      assert.equal([taken.status, taken.attempts, taken.delivered_at, taken.lease_until, taken.lease_token], ['delivered', 1, T + 1001, null, null])
      assert.equal(await logOf(b, d.id), [[1, 204]])
      assert.is(receiver.requests.length, 1)
      assert.equal(logs, [])
    } finally {
      await receiver.close()
      await close()
    }
  })

  test('a late recorder is refused: its outcome is not logged, the newer one stands', async () => {
    const { a, b, close } = await openTwice(locations.next())
    try {
      const [d] = (await seed(a, 'http://127.0.0.1:9/hook', 1)).deliveries as [DeliveriesTable]
      const late = await claimDelivery(a.db, d.id, T, T + 1000)
      assert.ok(late)
      const current = await claimDelivery(b.db, d.id, T + 1001, T + 2001)
      assert.ok(current)
      assert.is.not(current.token, late.token)
      // The first holder finishes after its lease ran out and was taken: nothing of it is written.
      assert.is(await recordAttempt(a, late, answered(204, T + 1500, 'delivered')), null)
      assert.equal(await logOf(a, d.id), [])
      assert.equal([(await deliveryOf(a, d.id)).status, (await deliveryOf(a, d.id)).lease_token], ['pending', current.token])
      // The holder records; the late one, trying again, is refused again.
      assert.is(await recordAttempt(b, current, answered(500, T + 1600, 'pending', T + 1700)), 1)
      assert.is(await recordAttempt(a, late, answered(204, T + 1800, 'delivered')), null)
      // A record counts once: its own lease is spent by it.
      assert.is(await recordAttempt(b, current, answered(204, T + 1900, 'delivered')), null)
      const after = await deliveryOf(b, d.id)
      assert.equal(
        [after.status, after.attempts, after.cycle_attempts, after.next_attempt_at, after.last_status_code, after.lease_until, after.lease_token, after.delivered_at],
        ['pending', 1, 1, T + 1700, 500, null, null, null],
      )
      assert.equal(await logOf(b, d.id), [[1, 500]])
    } finally {
      await close()
    }
  })

  test('an attempt that outlives its lease is sent, but its outcome is refused and logged; the dispatcher that took over delivers', async () => {
    const { a, b, close } = await openTwice(locations.next())
    const receiver = await WebhookReceiver.scripted(['hang'])
    const logsA: string[] = []
    const logsB: string[] = []
    const outcomesA: string[] = []
    try {
      const [d] = (await seed(a, receiver.url(), 1)).deliveries as [DeliveriesTable]
      const slow = dispatcher(a, logsA, { timeoutMs: 800, leaseMs: 100, onAttempt: (o) => outcomesA.push(o) })
      const running = slow.tick()
      await until('the first request', () => (receiver.requests.length === 1 ? true : undefined))
      await sleep(150)
      assert.is(await dispatcher(b, logsB).tick(), 1)
      assert.equal(await logOf(b, d.id), [[1, 204]])
      assert.is(await running, 1)
      const after = await deliveryOf(a, d.id)
      assert.equal([after.status, after.attempts, after.last_status_code, after.last_error], ['delivered', 1, 204, null])
      assert.equal(await logOf(a, d.id), [[1, 204]])
      assert.equal(
        receiver.requests.map((r) => r.headers['webhook-id']),
        [d.id, d.id],
      )
      assert.equal(logsA, [`webhook attempt not recorded: its lease was taken over ${JSON.stringify({ delivery: d.id, statusCode: null, error: 'timed out after 800 ms' })}`])
      assert.equal(outcomesA, [])
      assert.equal(logsB, [])
    } finally {
      await receiver.close()
      await close()
    }
  })

  test('a delivered delivery is never moved back and never delivered twice, even when a second 2xx comes after a crash', async () => {
    const { a, b, close } = await openTwice(locations.next())
    try {
      const { hookId, deliveries } = await seed(a, 'http://127.0.0.1:9/hook', 1)
      const d = deliveries[0] as DeliveriesTable
      // A sent and got a 2xx, then stopped before recording; B took over and was answered 2xx too.
      const first = await claimDelivery(a.db, d.id, T, T + 1000)
      const second = await claimDelivery(b.db, d.id, T + 1001, T + 2001)
      assert.ok(first && second)
      assert.is(await recordAttempt(b, second, answered(200, T + 1100, 'delivered')), 1)
      assert.is(await recordAttempt(a, first, answered(204, T + 1200, 'delivered')), null)
      assert.is(await recordAttempt(a, first, answered(500, T + 1300, 'pending', T + 1400)), null)
      assert.is(await recordAttempt(b, second, answered(500, T + 1300, 'dead')), null)
      // Nothing takes it up again, by lease or by hand.
      assert.is(await claimDelivery(a.db, d.id, T + 10_000_000, T + 10_001_000), null)
      assert.is(await requeueDelivery(b.db, d.id, T + 1500), false)
      try {
        await retryDelivery(b, hookId, d.id, T + 1500)
        assert.unreachable('a retry of a delivered delivery was accepted')
      } catch (error) {
        assert.instance(error, LateviewError)
        assert.is((error as LateviewError).code, 'LV_ERR_DELIVERY_DONE')
      }
      assert.is(await dispatcher(a, [], { clock: new ManualClock(T + 10_000_000) }).tick(), 0)
      const after = await deliveryOf(a, d.id)
      assert.equal([after.status, after.attempts, after.delivered_at, after.last_status_code], ['delivered', 1, T + 1100, 200])
      assert.equal(await logOf(a, d.id), [[1, 200]])
    } finally {
      await close()
    }
  })

  test('a retry by hand while an attempt is in flight keeps its lease: the attempt is recorded, and nobody sends beside it', async () => {
    const { a, b, close } = await openTwice(locations.next())
    try {
      const { deliveries } = await seed(a, 'http://127.0.0.1:9/hook', 1)
      const d = deliveries[0] as DeliveriesTable
      const claim = await claimDelivery(a.db, d.id, T, T + 1000)
      assert.ok(claim)
      assert.is(await requeueDelivery(b.db, d.id, T + 10), true)
      assert.is(await claimDelivery(b.db, d.id, T + 20, T + 1020), null)
      assert.is(await recordAttempt(a, claim, answered(500, T + 30, 'pending', T + 80)), 1)
      assert.equal(await logOf(a, d.id), [[1, 500]])
    } finally {
      await close()
    }
  })

  test('an attempt row the counter does not know (as the earlier code left one when it crashed) does not block delivery', async () => {
    const { a, close } = await openTwice(locations.next())
    const receiver = await WebhookReceiver.start()
    const logs: string[] = []
    try {
      const [d] = (await seed(a, receiver.url(), 1)).deliveries as [DeliveriesTable]
      // The report: attempt 1 answered 500 and recorded; attempt 2 answered 200, its row
      // written, and the process killed before the delivery was updated.
      const claim = await claimDelivery(a.db, d.id, T, T + 1000)
      assert.ok(claim)
      assert.is(await recordAttempt(a, claim, answered(500, T, 'pending', T)), 1)
      await a.db.kysely
        .insertInto('delivery_attempts')
        .values({ delivery_id: d.id, attempt: 2, at: T + 50, status_code: 200, error: null, duration_ms: 1 })
        .execute()
      assert.is((await deliveryOf(a, d.id)).attempts, 1)
      const x = dispatcher(a, logs)
      x.start()
      try {
        await until('the delivery', async () => ((await deliveryOf(a, d.id)).status === 'delivered' ? true : undefined), 5000)
      } finally {
        await x.stop()
      }
      assert.equal(await logOf(a, d.id), [
        [1, 500],
        [2, 200],
        [3, 204],
      ])
      assert.equal([(await deliveryOf(a, d.id)).attempts, receiver.requests.length], [3, 1])
      assert.equal(logs, [])
    } finally {
      await receiver.close()
      await close()
    }
  })

  test('one delivery that cannot be sent does not stop the others: its alert unreadable, it is dead at once, with the reason logged', async () => {
    const { a, close } = await openTwice(locations.next())
    const receiver = await WebhookReceiver.start()
    const logs: string[] = []
    try {
      const { deliveries } = await seed(a, receiver.url(), 3)
      await a.db.kysely.updateTable('alerts').set({ data: '{"count": ' }).where('id', '=', 2).execute()
      const x = dispatcher(a, logs)
      x.start()
      try {
        await until('every delivery to settle', async () => ((await deliveriesOf(a)).every((d) => d.status !== 'pending') ? true : undefined), 5000)
      } finally {
        await x.stop()
      }
      const [one, two, three] = await deliveriesOf(a)
      assert.equal([one?.status, two?.status, three?.status], ['delivered', 'dead', 'delivered'])
      assert.match(String(two?.last_error), /^cannot build the body: /)
      assert.equal(await logOf(a, deliveries[1]?.id ?? ''), [[1, null]])
      assert.equal(receiver.requests.map((r) => r.headers['webhook-id']).sort(), [one?.id, three?.id].sort())
      assert.equal(logs, [])
    } finally {
      await receiver.close()
      await close()
    }
  })

  test('a record the store fails is logged, the other deliveries go on, and the failed one is taken up again when its lease runs out', async () => {
    const { a, close } = await openTwice(locations.next())
    const receiver = await WebhookReceiver.start()
    const logs: string[] = []
    try {
      const { deliveries } = await seed(a, receiver.url(), 3)
      let failures = 1
      const write: Engine['write'] = (fn) => (failures-- > 0 ? Promise.reject(new Error('disk I/O error')) : a.write(fn))
      const failing = Object.create(a, { write: { value: write } }) as Engine
      const x = dispatcher(failing, logs, { leaseMs: 300 })
      x.start()
      try {
        await until('every delivery', async () => ((await deliveriesOf(a)).every((d) => d.status === 'delivered') ? true : undefined), 5000)
        // Still running: a new alert is delivered too.
        await a.write((tx) =>
          raiseAlerts(
            tx.db,
            [{ kind: 'JobFailed', view: 'daily_revenue', period: '2026-11-30', source: null, data: { job: 'consolidate', trigger: 'cron', now: new Date(T).toISOString(), error: 'again' } }],
            T,
          ),
        )
        x.wake()
        await until('the new delivery', async () => ((await deliveriesOf(a)).length === 4 && (await deliveriesOf(a)).every((d) => d.status === 'delivered') ? true : undefined), 5000)
      } finally {
        await x.stop()
      }
      assert.is(logs.length, 1, logs.join('\n'))
      assert.match(logs[0] as string, /^webhook delivery error \{"delivery":"msg_[^"]+","error":"disk I\/O error"\}$/)
      const failed = deliveries.find((d) => (logs[0] as string).includes(d.id))
      assert.ok(failed)
      // Sent twice (the first outcome was lost with the failed record), logged once.
      assert.equal(await logOf(a, failed.id), [[1, 204]])
      assert.is(receiver.requests.filter((r) => r.headers['webhook-id'] === failed.id).length, 2)
    } finally {
      await receiver.close()
      await close()
    }
  })

  test.run()
}
