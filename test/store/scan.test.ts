/**
 * The events scan with `parse` (rebuilds, verify, analysis), read on PostgreSQL with
 * `COPY … TO STDOUT`: the rows of every scan are exactly the events written, in seq order, with
 * stored data holding backslashes, tabs, newlines, carriage returns, quotes and non-ASCII text
 * (COPY's text format escapes some of them), over more rows than one batch of the reader and one
 * stretch of seqs, with late events (occurrence out of seq order) in two month partitions. A scan
 * inside a write transaction sees that transaction's rows. Both engines.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { forEachEvent, type AppendedEvent, type EventScan, type ScanRow } from '../../src/store/engine.js'
import { engines } from '../helpers/engines.js'
import { at } from '../helpers/ingest-fixtures.js'

const N = 30_000
const NOV = at('2026-11-20T00:00:00Z')
const HOUR = 3_600_000

/** Stored data texts, some not as JSON.stringify writes them (whitespace of every kind between tokens). */
function dataJson(i: number): string {
  switch (i % 9) {
    case 0:
      return JSON.stringify({ path: `C:\\dir\\${i}\\`, quote: 'say "hi"', amount: i })
    case 1:
      return `{\n\t"amount": ${i},\r\n\t"note": "tab\\there\\nnewline\\r\\\\"\n}`
    case 2:
      return JSON.stringify({ text: 'ünïcödé 日本語 😀 \u0001', amount: i, nested: { a: [1, null, 'z\\'] } })
    case 3:
      return JSON.stringify({ big: 'x'.repeat(700), amount: i })
    case 4:
      return JSON.stringify({ amount: i, empty: '', backslashes: '\\\\\\', unicodeEscape: '\\u00e9' })
    default:
      return JSON.stringify({ amount: i, store: String(i % 17).padStart(3, '0') })
  }
}

/** Events 1..N (sales and refunds), each fifth one late by up to 40 days, then retractions of every 1000th. */
function events(): AppendedEvent[] {
  const out: AppendedEvent[] = []
  for (let i = 1; i <= N; i++) {
    const receivedAt = NOV + i * 60_000
    const occurredAt = i % 5 === 0 ? receivedAt - ((i * 7919) % (40 * 24)) * HOUR : receivedAt - 1000
    const type = i % 4 === 0 ? 'refund' : 'sale'
    out.push({
      seq: i,
      receivedAt,
      event: { source: i % 3 === 0 ? 'store\t"tab"\\' : `store-${i % 7}`, id: `e-${i}`, type, occurredAt, data: {}, dataJson: dataJson(i), retracts: null },
      target: null,
    })
  }
  for (let k = 1; k <= 30; k++) {
    const target = out[k * 1000 - 1] as AppendedEvent
    out.push({
      seq: N + k,
      receivedAt: NOV + (N + k) * 60_000,
      event: { source: target.event.source, id: `r-${k}`, type: 'retraction\\x', occurredAt: NOV + (N + k) * 60_000, data: {}, dataJson: '{}', retracts: target.event.id },
      target: { seq: target.seq, type: target.event.type, occurredAt: target.event.occurredAt },
    })
  }
  return out
}

/** The rows a scan must give, from the events written. */
function expected(all: AppendedEvent[], scan: EventScan): ScanRow[] {
  return all
    .filter((a) => {
      const effType = a.target ? a.target.type : a.event.type
      const effAt = a.target ? a.target.occurredAt : a.event.occurredAt
      if (!scan.types.includes(effType) || a.seq > scan.maxSeq || a.seq <= (scan.afterSeq ?? 0)) return false
      if (scan.originalsOnly && a.target) return false
      return !scan.range || (effAt >= scan.range.start && effAt < scan.range.end)
    })
    .map((a) => ({
      seq: a.seq,
      source: a.event.source,
      type: a.event.type,
      occurred_at: a.event.occurredAt,
      received_at: a.receivedAt,
      data: '',
      parsed: JSON.parse(a.event.dataJson as string) as Record<string, unknown>,
      target_seq: a.target ? a.target.seq : null,
      id: scan.withIds ? a.event.id : '',
      retracts: scan.withIds ? a.event.retracts : null,
    }))
}

const SCANS: EventScan[] = [
  { types: ['sale', 'refund'], maxSeq: N + 30, originalsOnly: true, parse: true },
  { types: ['sale', 'refund'], maxSeq: Number.MAX_SAFE_INTEGER, parse: true },
  { types: ['refund'], afterSeq: 1234, maxSeq: 27_001, withIds: true, parse: true },
  { types: ['sale'], afterSeq: 24_998, maxSeq: 25_002, parse: true },
  { types: ['sale', 'refund'], maxSeq: N + 30, range: { start: at('2026-11-28T00:00:00Z'), end: at('2026-12-03T00:00:00Z') }, withIds: true, parse: true },
]

for (const factory of await engines()) {
  const test = suite(`store/scan (${factory.name})`)

  test.after(() => factory.cleanup())

  test('parse scans give exactly the rows written, escapes, nulls and batch boundaries included; a write transaction sees its own rows', async () => {
    const engine = await factory.open()
    try {
      const all = events()
      const scan = async (db: typeof engine.db, s: EventScan) => {
        const rows: ScanRow[] = []
        await forEachEvent(db, s, (row) => rows.push(row))
        return rows
      }
      // A write transaction's scan sees its rows; once it rolls back, nobody does.
      await engine
        .write(async (tx) => {
          await tx.insertEvents(all.slice(0, 100))
          assert.equal(await scan(tx.db, SCANS[1] as EventScan), expected(all.slice(0, 100), SCANS[1] as EventScan))
          throw new Error('roll back')
        })
        .catch((error: Error) => assert.is(error.message, 'roll back'))
      assert.equal(await scan(engine.db, SCANS[1] as EventScan), [])
      await engine.write(async (tx) => {
        await tx.insertEvents(all)
        assert.is((await scan(tx.db, SCANS[0] as EventScan)).length, N)
      })
      for (const s of SCANS) {
        const want = expected(all, s)
        assert.ok(want.length > 1, JSON.stringify(s))
        assert.equal(await scan(engine.db, s), want, JSON.stringify(s))
      }
      assert.is(expected(all, SCANS[0] as EventScan).length, N)
      assert.is(expected(all, SCANS[1] as EventScan).length, N + 30)
      assert.is(expected(all, SCANS[3] as EventScan).length, 3)
      // A snapshot's scan gives the same rows as the store's.
      assert.equal(await engine.snapshot((db) => scan(db, SCANS[2] as EventScan)), expected(all, SCANS[2] as EventScan))
    } finally {
      await engine.close()
    }
  })

  test.run()
}
