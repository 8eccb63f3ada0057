import type { Kysely } from 'kysely'
import { piecesOf } from '../../domain/time.js'
import type { EventScan, ScanRow } from '../engine.js'
import { queryRows } from '../db.js'
import { visitPage } from '../rows.js'
import type { Schema } from '../schema.js'
import { copyOut, literal, unescapeCopyText } from './copy.js'

/**
 * A scan as keyset pages of 10,000 rows in seq order, in portable Kysely: PostgreSQL's scan
 * without `parse`, and that of a SQLite Kysely instance not opened by `openEngine` (no
 * better-sqlite3 handle to use).
 */
export async function forEachPaged(db: Kysely<Schema>, scan: EventScan, visit: (row: ScanRow) => void): Promise<void> {
  let after = scan.afterSeq ?? 0
  for (;;) {
    let q = db
      .selectFrom('events')
      .select(['seq', 'source', 'type', 'occurred_at', 'received_at', 'data', 'target_seq'])
      .$if(scan.withIds === true, (qb) => qb.select(['id', 'retracts']))
      .where('eff_type', 'in', [...scan.types])
      .where('seq', '<=', scan.maxSeq)
      .where('seq', '>', after)
    const range = scan.range
    if (range) q = q.where((eb) => eb.or(piecesOf(range).map((p) => eb.and([eb('eff_occurred_at', '>=', p.start), eb('eff_occurred_at', '<', p.end)]))))
    if (scan.originalsOnly) q = q.where('target_seq', 'is', null)
    const rows = (await q.orderBy('seq').limit(10_000).execute()) as Array<Omit<ScanRow, 'id' | 'retracts'> & Partial<Pick<ScanRow, 'id' | 'retracts'>>>
    // Without withIds, id is '' and retracts null (ScanRow): the scan does not read them.
    for (const row of rows) {
      const r = { ...row, id: row.id ?? '', retracts: row.retracts ?? null }
      visit(scan.parse ? { ...r, parsed: JSON.parse(r.data) as Record<string, unknown>, data: '' } : r)
    }
    if (rows.length < 10_000) return
    after = (rows[rows.length - 1] as ScanRow).seq
  }
}

/** Lets pg send a query already handed to it before the caller goes on with synchronous work. */
function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * The `parse` scan on PostgreSQL: `COPY … TO STDOUT` (./copy.ts), each batch of lines made one
 * JSON array and parsed by one JSON.parse (pg spent more turning rows into objects than the fold
 * spends on them). In seq order, stretches of seqs; a range in any order (a report of a period),
 * one statement that streams the range as PostgreSQL finds it.
 */
export function forEachParsedPage(db: Kysely<Schema>, scan: EventScan, visit: (row: ScanRow) => void): Promise<void> {
  return forEachCopied(db, scan, visit)
}

/**
 * The `parse` scan in seq order as one `COPY (…) TO STDOUT` (./copy.ts): each row one line, the
 * row's values as JSON followed by a comma, so that a batch of lines is a JSON array but for its
 * brackets (a newline is JSON whitespace) and is parsed by one JSON.parse; the stored data goes
 * in verbatim. PostgreSQL only reads and sorts rows; it had spent more building each page as one
 * JSON text than the fold spent on it. The rows stream: the server waits while a batch is folded.
 */
async function forEachCopied(db: Kysely<Schema>, scan: EventScan, visit: (row: ScanRow) => void): Promise<void> {
  const types = scan.types
  const targets = !scan.originalsOnly
  // A COPY takes no parameters: the values are literals (integers, and the types quoted).
  const int = (n: number) => {
    if (!Number.isSafeInteger(n)) throw new Error(`events scan: ${n} is not an integer`)
    return String(n)
  }
  let where = `eff_type in (${types.map(literal).join(', ')})`
  if (scan.range)
    where += ` and (${piecesOf(scan.range)
      .map((p) => `eff_occurred_at >= ${int(p.start)} and eff_occurred_at < ${int(p.end)}`)
      .join(' or ')})`
  if (scan.originalsOnly) where += ' and target_seq is null'
  const typeIndex = `case type${types.map((t, i) => ` when ${literal(t)} then '${i}'`).join('')} else to_json(type)::text end`
  const extra = `${targets ? `, coalesce(target_seq::text, 'null')` : ''}${scan.withIds ? `, to_json(id)::text, coalesce(to_json(retracts)::text, 'null')` : ''}`
  const select = `select concat_ws(',', seq, to_json(source)::text, ${typeIndex}, occurred_at, received_at - occurred_at, data${extra}, '') from events where ${where}`
  // A range is read on the occurrence index (the partitions' primary key) and sorted whole (a
  // period's rows); otherwise seqs are read a stretch at a time on each partition's seq index
  // (migration 0011), merged in seq order: a stretch is its own rows, whatever their occurrence.
  const from = scan.afterSeq ?? 0
  let previous = scan.afterSeq ?? Number.MIN_SAFE_INTEGER
  const onText = (batch: string) => {
    const row = JSON.parse(`[${unescapeCopyText(batch)}0]`) as unknown[]
    previous = visitPage(row, row.length - 1, scan, previous, visit)
  }
  if (scan.range && scan.unordered) {
    // A period's rows, folded as they stream: no sort, no page held (a day read as rows by pg
    // took twice as long, most of it turning rows into objects).
    await copyOut(db, `${select} and seq > ${int(from)} and seq <= ${int(scan.maxSeq)}`, onText)
    return
  }
  const statements: string[] = []
  if (scan.range) statements.push(`${select} and seq > ${int(from)} and seq <= ${int(scan.maxSeq)} order by seq`)
  else {
    const [head] = await queryRows<{ seq: number | null }>({ engine: 'postgres', kysely: db }, 'select max(seq) as seq from event_keys where seq <= ?', [scan.maxSeq])
    const to = Math.min(scan.maxSeq, head?.seq ?? from)
    for (let low = from; low < to; low += STRETCH) {
      statements.push(`${select} and seq > ${int(low)} and seq <= ${int(Math.min(low + STRETCH, to))} order by seq`)
    }
  }
  // A stretch's rows are gathered as text (a few MB), and the next stretch is asked for before
  // they are folded: PostgreSQL reads and sorts a stretch before it sends its first row, and does
  // so while JavaScript folds the one before. At most two stretches are held.
  const read = (text: string) => {
    const batches: string[] = []
    const done = copyOut(db, text, (batch) => batches.push(batch)).then(() => batches)
    // An unobserved failure of the stretch read ahead is the next await's, or nobody's (visit threw).
    done.catch(() => undefined)
    return done
  }
  let pending = statements.length > 0 ? read(statements[0] as string) : null
  for (let k = 0; pending !== null; k++) {
    const batches = await pending
    pending = k + 1 < statements.length ? read(statements[k + 1] as string) : null
    if (pending !== null) await yieldToIo()
    for (const batch of batches) onText(batch)
  }
}

/**
 * Seqs per statement of a scan in seq order: a stretch PostgreSQL sorts in memory (work_mem 4 MB),
 * and two of which, as text, cost the client little memory (25,000 held 15–25 MB more at the peak).
 */
const STRETCH = 10_000
