/**
 * Where library ingest spends its time at steady state: ingests a warm-up prefix into lateview
 * and into the raw tables, times the next `--events` interleaved (lateview, raw inserts, raw
 * inserts with lateview's secondary indexes: ms per batch of 1,000), then profiles lateview alone
 * on as many more events and prints the functions of src/ by inclusive time.
 *
 *   node --import tsx bench/profile-ingest.ts [--warm 300000] [--events 50000] [--uuid]
 *        [--views shipped|none|no-max] [--out /tmp/ingest.cpuprofile] [--timed-only]
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { Lateview } from '../src/services/lateview.js'
import type { ViewDefinition } from '../src/domain/view.js'
import { benchViews, lateClock } from './common.js'
import { batches, fixtureStream, RowConverter, UuidIds } from './data.js'
import { summarise } from './profile-summary.js'
import { sqliteBackend } from './stores.js'

const args = process.argv.slice(2)
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`)
  return at >= 0 ? (args[at + 1] ?? fallback) : fallback
}
const warm = Number(option('warm', '300000'))
const events = Number(option('events', '50000'))
const uuid = args.includes('--uuid')
const viewsOption = option('views', 'shipped')
const out = option('out', '/tmp/ingest.cpuprofile')
/** Only the interleaved timing: no profile of further batches. */
const timedOnly = args.includes('--timed-only')

function views(): ViewDefinition[] {
  const shipped = benchViews()
  if (viewsOption === 'none') return []
  if (viewsOption === 'no-max') return shipped.map((v) => ({ ...v, measures: v.measures.filter((m) => m.kind !== 'max' && m.kind !== 'min') }))
  return shipped
}

const backend = sqliteBackend(false)
const lateview = await Lateview.open({ db: backend.location('profile'), views: views(), clock: lateClock() })
const raw = await backend.rawSink('raw')
const rawAll = await backend.rawSink('raw_all', { allIndexes: true })
try {
  const convert = new RowConverter()
  const ids = new UuidIds()
  const total = warm + (timedOnly ? 1 : 2) * events
  const ms = { lateview: 0, raw: 0, rawAll: 0 }
  const profiled: unknown[][] = []
  let seen = 0
  for (const plain of batches(fixtureStream({ perDay: 10_000, days: Math.ceil(total / 10_000) + 3, limit: total }))) {
    const batch = uuid ? plain.map((e) => ids.map(e)) : plain
    const phase = seen < warm ? 'warm' : seen < warm + events ? 'timed' : 'profiled'
    seen += batch.length
    if (phase === 'profiled') {
      profiled.push(batch)
      continue
    }
    const rows = batch.map((e) => convert.row(e))
    const time = async (key: keyof typeof ms, fn: () => Promise<unknown>) => {
      const started = performance.now()
      await fn()
      if (phase === 'timed') ms[key] += performance.now() - started
    }
    await time('lateview', () => lateview.ingest(batch, { imported: true }))
    await time('raw', () => raw.insert(rows))
    await time('rawAll', () => rawAll.insert(rows))
  }
  const perBatch = (v: number) => `${(v / (events / 1000)).toFixed(1)} ms/batch, ${Math.round(events / (v / 1000))} events/s`
  process.stdout.write(`views ${viewsOption}, ${uuid ? 'UUIDv4' : 'time-ordered'} ids, after ${warm} events:\n`)
  process.stdout.write(
    `  lateview            ${perBatch(ms.lateview)}\n  raw                 ${perBatch(ms.raw)}\n  raw, lateview layout${perBatch(ms.rawAll)}\n  ratio               ${(ms.raw / ms.lateview).toFixed(3)} of raw, ${(ms.rawAll / ms.lateview).toFixed(3)} of lateview layout\n`,
  )
  if (!timedOnly) {
    const session = new Session()
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: 200 })
    await session.post('Profiler.start')
    const started = performance.now()
    for (const batch of profiled) await lateview.ingest(batch, { imported: true })
    const profiledMs = performance.now() - started
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    writeFileSync(out, JSON.stringify(profile))
    const batchesProfiled = profiled.length
    process.stdout.write(`\nprofile of ${batchesProfiled} more batches (${(profiledMs / batchesProfiled).toFixed(1)} ms/batch) in ${out}; src/ by inclusive time, ms per batch:\n`)
    const { lines } = summarise(profile as Parameters<typeof summarise>[0])
    for (const l of lines
      .filter((l) => l.name.includes('src/') || l.name.startsWith('run ') || l.name === 'run' || l.name.startsWith('(garbage'))
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, 30)) {
      process.stdout.write(`  ${(l.totalMs / batchesProfiled).toFixed(2).padStart(6)} incl ${(l.selfMs / batchesProfiled).toFixed(2).padStart(6)} self  ${l.name}\n`)
    }
  }
} finally {
  await raw.close()
  await rawAll.close()
  await lateview.close()
  await backend.cleanup()
}
