/**
 * Figure 5 in a process of its own, so its peak RSS is the rebuild's: `verifyStore` (what
 * `lateview verify` runs) recomputes every view's cells at the head seq and every stored revision
 * at its cutoff in one pass over the events, and compares them with the stored ones. Prints one
 * JSON line; with one pass the revisions' time is part of `recomputeMs` and `verifyMs` is 0.
 *
 *   node --import tsx bench/rebuild-child.ts <LATEVIEW_DB> [views dir]
 */
import { join } from 'node:path'
import { ViewCatalog } from '../src/services/definitions.js'
import { verifyStore } from '../src/services/realtime.js'
import { compileViews, loadViewFiles } from '../src/services/view-files.js'
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
  const counted = await db.kysely
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow()
  const events = Number(counted.n)
  const started = performance.now()
  const cpuBefore = process.cpuUsage()
  const verified = await verifyStore(engine, new ViewCatalog(programs), programs)
  const recomputeMs = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)
  const verifyMs = 0
  const stored = await db.kysely
    .selectFrom('cells')
    .select(['view', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('view')
    .execute()
  const views = programs.map((p) => ({
    view: p.name,
    ms: recomputeMs,
    cells: Number(stored.find((r) => r.view === p.name)?.n ?? 0),
    differing: verified.realtime.differences.filter((d) => d.view === p.name).length,
  }))
  const revisionCount = verified.revisions.revisions
  const verifyDifferences = verified.revisions.differences.length
  const totalMs = recomputeMs + verifyMs
  process.stdout.write(
    `${JSON.stringify({
      events,
      head,
      recomputeMs,
      // CPU time of the pass (user and system, every thread): steadier than wall time on a busy machine.
      cpuMs: (cpu.user + cpu.system) / 1000,
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
