/**
 * Figure 5 in a process of its own, so its peak RSS is the rebuild's: recomputes every view's
 * cells from the store at the head seq and compares them with the stored cells, then recomputes
 * every stored revision (verifyRevisions). Prints one JSON line.
 *
 *   node --import tsx bench/rebuild-child.ts <LATEVIEW_DB> [views dir]
 */
import { join } from 'node:path'
import { sameCell } from '../src/domain/aggregate.js'
import { recomputeView } from '../src/services/realtime.js'
import { verifyRevisions } from '../src/services/reports.js'
import { compileViews, loadViewFiles } from '../src/services/view-files.js'
import { readCellMap } from '../src/store/cells.js'
import { openEngine } from '../src/store/engine.js'
import { headSeq } from '../src/store/events.js'

const location = process.argv[2]
if (!location) {
  process.stderr.write('usage: rebuild-child.ts <LATEVIEW_DB> [views dir]\n')
  process.exit(2)
}
const viewsDir = process.argv[3] ?? join(import.meta.dirname, '..', 'views')
const mb = (kb: number) => Math.round(kb / 102.4) / 10

const rssAtStartMb = mb(process.resourceUsage().maxRSS)
const engine = await openEngine(location)
try {
  const programs = compileViews(loadViewFiles(viewsDir))
  const db = engine.db
  const head = await headSeq(db)
  const counted = await db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  const events = Number(counted.n)
  const views: Array<{ view: string; ms: number; cells: number; differing: number }> = []
  const started = performance.now()
  for (const program of programs) {
    const t = performance.now()
    const cells = await recomputeView(db, program, head)
    const ms = performance.now() - t
    const stored = await readCellMap(db, program)
    let differing = 0
    for (const id of new Set([...cells.keys(), ...stored.keys()])) {
      const a = cells.get(id)
      const b = stored.get(id)
      if (!a || !b || !sameCell(a, b)) differing++
    }
    views.push({ view: program.name, ms, cells: cells.size, differing })
  }
  const recomputeMs = performance.now() - started
  const revisionCount = Number((await db.selectFrom('revisions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  let verifyMs = 0
  let verifyDifferences = 0
  if (revisionCount > 0) {
    const t = performance.now()
    const verified = await verifyRevisions(db, programs)
    verifyMs = performance.now() - t
    verifyDifferences = verified.differences.length
  }
  const totalMs = recomputeMs + verifyMs
  process.stdout.write(
    `${JSON.stringify({
      events,
      head,
      recomputeMs,
      verifyMs,
      totalMs,
      eventsPerSec: events / (totalMs / 1000),
      views,
      revisions: revisionCount,
      verifyDifferences,
      rssAtStartMb,
      peakRssMb: mb(process.resourceUsage().maxRSS),
    })}\n`,
  )
} finally {
  await engine.close()
}
