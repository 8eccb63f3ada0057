/**
 * lateview's benchmark: figures of issue 5, each against a baseline measured in the same run.
 * See bench/README.md for the figures, the options and the JSON written.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import pg from 'pg'
import { measureAnalysis } from './analysis.js'
import { measureConsume } from './consume.js'
import type { Log } from './common.js'
import { measureHttp } from './http.js'
import { measureIngest } from './ingest.js'
import { measureMemory } from './memory.js'
import { measureProcesses } from './processes.js'
import { parseOptions, ROOT, type BenchOptions, type EngineName, type Phase } from './options.js'
import { buildStore, measureAsOf, measureConsolidate, measureLatest, measureRebuild, measureSources, type ReadStore } from './reads.js'
import { formatTable, tableRows, type EngineResults } from './report.js'
import { postgresBackend, sqliteBackend, type Backend } from './stores.js'

const started = Date.now()
const log: Log = (message) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`)

async function reachable(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.end()
    return null
  } catch (error) {
    return (error as Error).message
  }
}

async function runEngine(engine: EngineName, options: BenchOptions, backend: Backend): Promise<EngineResults> {
  const sizes = options.sizes[engine]
  const results: EngineResults = { sizes, where: backend.where, stores: {}, phaseMs: {} }
  const want = (p: Phase) => options.only.has(p)
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    log(`${engine}: ${name}`)
    const t = performance.now()
    try {
      return await fn()
    } finally {
      results.phaseMs[name] = Math.round(performance.now() - t)
      log(`${engine}: ${name} done in ${(results.phaseMs[name] / 1000).toFixed(1)} s`)
    }
  }
  const budgetMs = options.budgetSeconds * 1000
  if (want('ingest')) results.ingest = await phase('ingest', () => measureIngest(backend, sizes, budgetMs, log))
  if (want('http')) results.http = await phase('http', () => measureHttp(backend, sizes, budgetMs))
  if (want('memory')) results.memory = await phase('memory', () => measureMemory(backend, options.quick, options.scale))
  // Several serve processes on one store: PostgreSQL only (a SQLite file has one writer process).
  if (want('processes') && engine === 'postgres') results.processes = await phase('processes', () => measureProcesses(backend, options, log))
  if (want('consume')) results.consume = await phase('consume', () => measureConsume(backend, sizes, options.natsUrl, log))
  const reads = (['latest', 'asof', 'rebuild', 'consolidate', 'analysis'] as const).filter(want)
  if (reads.length === 0) return results
  let small: ReadStore | undefined
  if (want('latest')) {
    small = await phase('load small store', () => buildStore(backend, 'small', sizes, sizes.smallDays))
    results.stores.small = small
  }
  const large = await phase('load large store', () => buildStore(backend, 'large', sizes, sizes.largeDays))
  results.stores.large = large
  // Consolidation first: it needs days without a revision; closing every period comes with figure 3.
  if (want('consolidate')) results.consolidate = await phase('consolidate', () => measureConsolidate(backend, large, sizes))
  if (want('latest') && small) {
    const s = small
    results.latest = await phase('latest', () => measureLatest(backend, s, large, sizes, log))
  }
  // The other HTTP read of the large store: run with figure 3.
  if (want('latest')) results.sources = await phase('sources', () => measureSources(backend, large, sizes))
  if (want('asof')) results.asOf = await phase('as-of', () => measureAsOf(backend, large, sizes))
  if (want('rebuild')) results.rebuild = await phase('rebuild', () => measureRebuild(backend, large))
  // Last: it closes every period of the large store that the figures before left open.
  if (want('analysis')) results.analysis = await phase('analysis', () => measureAnalysis(large, options.quick, log))
  return results
}

/** A hash of every file under src/: other engineers edit src/ while runs go on. */
function sourceHash(): string {
  const hash = createHash('sha256')
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|mjs|js)$/.test(f))
    .sort()
  for (const f of files) hash.update(f).update(readFileSync(join(ROOT, 'src', f)))
  return hash.digest('hex').slice(0, 16)
}

function gitRevision(): string | null {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim()
    return dirty ? `${head} (src/ modified)` : head
  } catch {
    return null
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const backends: Backend[] = []
  let interrupted = false
  const cleanup = async () => {
    for (const b of backends.splice(0)) {
      await b.cleanup().catch((error: Error) => log(`cleanup of ${b.where} failed: ${error.message}`))
      if (options.keep) log(`kept ${b.where}`)
    }
  }
  process.once('SIGINT', () => {
    interrupted = true
    log('interrupted: cleaning up')
    void cleanup().finally(() => process.exit(130))
  })

  const output: Record<string, unknown> = {
    meta: {
      mode: options.quick ? 'quick' : 'full',
      scale: options.scale,
      budgetSeconds: Number.isFinite(options.budgetSeconds) ? options.budgetSeconds : null,
      engines: options.engines,
      only: [...options.only],
      startedAt: new Date(started).toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
      memoryMb: Math.round(totalmem() / 2 ** 20),
      revision: gitRevision(),
      sourceHash: sourceHash(),
    },
  }
  const rows = []
  let failedPhase: Error | null = null
  try {
    for (const engine of options.engines) {
      if (engine === 'postgres') {
        const problem = await reachable(options.pgUrl)
        if (problem !== null) {
          if (options.engines.length === 1) throw new Error(`PostgreSQL at ${options.pgUrl} is not reachable: ${problem}`)
          log(`postgres skipped: ${options.pgUrl} is not reachable (${problem})`)
          output.postgres = { skipped: problem }
          continue
        }
      }
      const backend = engine === 'sqlite' ? sqliteBackend(options.keep) : await postgresBackend(options.pgUrl, options.keep)
      backends.push(backend)
      const results = await runEngine(engine, options, backend)
      output[engine] = results
      rows.push(...tableRows(engine, results))
      await backend.cleanup()
      if (options.keep) log(`kept ${backend.where}`)
      backends.splice(backends.indexOf(backend), 1)
    }
  } catch (error) {
    failedPhase = error as Error
  } finally {
    if (!interrupted) await cleanup()
  }
  const checked = rows.filter((r) => r.pass !== null)
  output.table = rows
  output.summary = { targets: checked.length, passed: checked.filter((r) => r.pass).length, failed: checked.filter((r) => r.pass === false).length, durationMs: Date.now() - started }
  if (failedPhase) output.error = failedPhase.stack ?? failedPhase.message
  const meta = output.meta as { sourceHash: string; sourceHashAtEnd?: string; sourceChanged?: boolean }
  meta.sourceHashAtEnd = sourceHash()
  meta.sourceChanged = meta.sourceHashAtEnd !== meta.sourceHash
  if (meta.sourceChanged) log('WARNING: src/ changed during the run; its figures mix two versions of the code (child processes load the newer one)')
  mkdirSync(dirname(options.out), { recursive: true })
  writeFileSync(options.out, `${JSON.stringify(output, null, 2)}\n`)
  if (rows.length > 0) process.stdout.write(`\n${formatTable(rows)}\n\n`)
  const s = output.summary as { targets: number; passed: number; failed: number; durationMs: number }
  process.stdout.write(`${s.passed} of ${s.targets} targets met, ${s.failed} missed; ${(s.durationMs / 1000).toFixed(0)} s; results in ${options.out}\n`)
  if (meta.sourceChanged) process.stdout.write('WARNING: src/ changed during the run (meta.sourceChanged): run again for figures of one version\n')
  if (failedPhase) {
    process.stderr.write(`bench failed: ${failedPhase.stack ?? failedPhase.message}\n`)
    process.exitCode = 1
  }
}

await main()
