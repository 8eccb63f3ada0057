import { piecesOf, type Interval } from '../../domain/time.js'
import type { EventScan, ScanRow } from '../engine.js'
import { marks } from '../db.js'
import { visitPage } from '../rows.js'
import type { Statements } from './statements.js'

function scanSql(scan: EventScan): { where: string; params: unknown[] } {
  const params: unknown[] = [...scan.types]
  let where = `eff_type in (${marks(scan.types.length)})`
  if (scan.range) {
    const pieces = piecesOf(scan.range)
    where += ` and (${pieces.map(() => 'eff_occurred_at >= ? and eff_occurred_at < ?').join(' or ')})`
    for (const piece of pieces) params.push(piece.start, piece.end)
  }
  where += ' and seq <= ?'
  params.push(scan.maxSeq)
  if (scan.afterSeq !== undefined) {
    where += ' and seq > ?'
    params.push(scan.afterSeq)
  }
  if (scan.originalsOnly) where += ' and target_seq is null'
  return { where, params }
}

/**
 * A scan on SQLite without `parse`: one prepared statement iterated synchronously (nothing can
 * interleave with it), rows as arrays.
 */
export function forEachRow(statements: Statements, scan: EventScan, visit: (row: ScanRow) => void): void {
  const { where, params } = scanSql(scan)
  const columns = `seq, source, type, occurred_at, received_at, data, target_seq${scan.withIds ? ', id, retracts' : ''}`
  // A scan of everything reads the table in rowid order; a period reads its index range.
  const text = `select ${columns} from events${scan.range ? '' : ' not indexed'} where ${where}${scan.unordered ? '' : ' order by seq'}`
  const stmt = statements.get(text, 'arrays')
  for (const r of stmt.iterate(...params) as IterableIterator<unknown[]>) {
    visit({
      seq: r[0] as number,
      source: r[1] as string,
      type: r[2] as string,
      occurred_at: r[3] as number,
      received_at: r[4] as number,
      data: r[5] as string,
      target_seq: r[6] as number | null,
      id: scan.withIds ? (r[7] as string) : '',
      retracts: scan.withIds ? (r[8] as string | null) : null,
    })
  }
}

/** Rows per page of a `parse` scan on SQLite (a page is one string of about 90 bytes a row). */
const PAGE_ROWS = 1000

/**
 * The SQLite side of a `parse` scan: pages of rows in seq order, each page one JSON array built
 * by SQLite (the stored data is JSON text already and goes in verbatim), parsed by one
 * JSON.parse. Better-sqlite3 spends about a microsecond crossing into JavaScript per row and
 * column; per page it is one string. JSON.parse of the data inside the page gives exactly what
 * JSON.parse of each row's data would.
 */
export function forEachPage(statements: Statements, scan: EventScan, visit: (row: ScanRow) => void): void {
  // The page's own lower bound replaces afterSeq: given two, SQLite seeks by the first and
  // filters by the second, which would read the window again for every page.
  const { where, params } = scanSql({ ...scan, afterSeq: undefined })
  // A page is `[seq, source, type, occurred_at, received_at - occurred_at, data, (target_seq), (id, retracts), ...]`
  // flattened. concat_ws builds each row in one allocation (`||` copies at every step); it skips
  // NULLs, so the nullable columns go through json_quote. Less text is less to build and parse:
  // a type among the scan's is its index there (a retraction's own type is quoted), and
  // received_at is told from occurred_at (a few digits; both are integers, the sum is exact).
  const targets = !scan.originalsOnly
  const typeIndex = `case type${scan.types.map((_, i) => ` when ? then ${i}`).join('')} else json_quote(type) end`
  const extra = `${targets ? ', json_quote(target_seq)' : ''}${scan.withIds ? ', json_quote(id), json_quote(retracts)' : ''}`
  const text =
    `select count(*), max(seq), '[' || group_concat(concat_ws(',', seq, json_quote(source), ${typeIndex}, occurred_at, received_at - occurred_at, data${extra}), ',') || ']' ` +
    `from (select seq, source, type, occurred_at, received_at, data, target_seq, id, retracts from events${scan.range ? '' : ' not indexed'} ` +
    `where ${where} and seq > ? order by seq limit ${PAGE_ROWS})`
  const stmt = statements.get(text, 'arrays')
  const types = scan.types
  let after = scan.afterSeq ?? Number.MIN_SAFE_INTEGER
  for (;;) {
    const [count, last, page] = stmt.get(...types, ...params, after) as [number, number | null, string | null]
    if (count === 0 || last === null || page === null) return
    const values = JSON.parse(page) as unknown[]
    // The subquery's order reaches group_concat in practice; visitPage refuses a page out of order.
    visitPage(values, values.length, scan, after, visit)
    if (count < PAGE_ROWS) return
    after = last
  }
}

/**
 * A `parse` scan of one occurrence range in any order, on SQLite (a report of a period): pages
 * in the index's own order, (eff_occurred_at, seq), each page a seek where the last one ended,
 * read as one JSON text as in `forEachPage`. Paging a range by seq instead would sort the whole
 * range for every page.
 */
export function forEachRangePage(statements: Statements, scan: EventScan, range: Interval, visit: (row: ScanRow) => void): void {
  const { where, params } = scanSql({ ...scan, range: undefined })
  const ids = scan.withIds ? ', json_quote(id), json_quote(retracts)' : ''
  const width = scan.withIds ? 10 : 8
  // A page is `[eff_occurred_at, seq, source, type, occurred_at, received_at, target_seq, data, (id, retracts), ...]` flattened.
  const text =
    `select count(*), '[' || group_concat(concat_ws(',', eff_occurred_at, seq, json_quote(source), json_quote(type), occurred_at, received_at, json_quote(target_seq), data${ids}), ',') || ']' ` +
    `from (select * from events where ${where} and eff_occurred_at < ? and (eff_occurred_at, seq) > (?, ?) order by eff_occurred_at, seq limit ${PAGE_ROWS})`
  const stmt = statements.get(text, 'arrays')
  // The cursor starts just before the range: (start, smallest seq).
  let at = range.start
  let seq = Number.MIN_SAFE_INTEGER
  for (;;) {
    const [count, page] = stmt.get(...params, range.end, at, seq) as [number, string | null]
    if (count === 0 || page === null) return
    const values = JSON.parse(page) as unknown[]
    for (let i = 0; i < values.length; i += width) {
      const rowAt = values[i] as number
      const rowSeq = values[i + 1] as number
      if (rowAt < at || (rowAt === at && rowSeq <= seq)) throw new Error(`events scan: (${rowAt}, ${rowSeq}) after (${at}, ${seq})`)
      at = rowAt
      seq = rowSeq
      visit({
        seq: rowSeq,
        source: values[i + 2] as string,
        type: values[i + 3] as string,
        occurred_at: values[i + 4] as number,
        received_at: values[i + 5] as number,
        target_seq: values[i + 6] as number | null,
        data: '',
        parsed: values[i + 7] as Record<string, unknown>,
        id: scan.withIds ? (values[i + 8] as string) : '',
        retracts: scan.withIds ? (values[i + 9] as string | null) : null,
      })
    }
    if (count < PAGE_ROWS) return
  }
}
