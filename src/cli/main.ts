import { parseArgs, type ParseArgsConfig } from 'node:util'
import { generateFixture, type FixtureEvent } from '../../fixtures/generate.js'
import { loadConfig } from '../config.js'
import { systemClock } from '../domain/clock.js'
import { ViewDefinitionError } from '../domain/view.js'
import { isLateviewError } from '../errors.js'
import { startServer } from '../server.js'
import { Lateview } from '../services/lateview.js'
import { loadViewFiles } from '../services/view-files.js'
import { ingestFile } from './ingest.js'
import { err, out, table, UsageError } from './output.js'

interface Command {
  summary: string
  usage: string
  help: string
  options: NonNullable<ParseArgsConfig['options']>
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>
}

const ENVIRONMENT = `Environment: LATEVIEW_DB (SQLite path or postgres:// URL, default ./data/lateview.db),
LATEVIEW_VIEWS (default ./views); see the README for every variable.`

async function openFromEnv(): Promise<Lateview> {
  const config = loadConfig()
  return Lateview.open({ db: config.db, views: loadViewFiles(config.viewsDir), clock: systemClock })
}

async function withLateview(fn: (lateview: Lateview) => Promise<number>): Promise<number> {
  const lateview = await openFromEnv()
  try {
    return await fn(lateview)
  } finally {
    await lateview.close()
  }
}

function positiveInt(value: string | boolean | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < 1) throw new UsageError(`--${name} must be a positive integer`)
  return n
}

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'start the HTTP server',
    usage: 'lateview serve',
    help: `Starts the HTTP API on HOST:PORT (default 127.0.0.1:3000) over LATEVIEW_DB.\n${ENVIRONMENT}`,
    options: {},
    async run() {
      const config = loadConfig()
      const server = await startServer(config)
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          server.app.log.info({ signal }, 'shutting down')
          server.close().then(resolve, (error: unknown) => {
            err(`shutdown failed: ${(error as Error).message}`)
            resolve()
          })
        }
        process.once('SIGINT', () => stop('SIGINT'))
        process.once('SIGTERM', () => stop('SIGTERM'))
      })
      return 0
    },
  },
  ingest: {
    summary: 'append events from an NDJSON file or - (stdin)',
    usage: 'lateview ingest <file.ndjson|-> [--batch 1000] [--import] [--keep-going]',
    help: `Appends events, one JSON object per line, in atomic batches (--batch, default 1000).
A refused batch writes nothing and stops the run (--keep-going goes on with the next batch).
--import keeps each event's receivedAt (history import; must not go back in time).
Shows a progress bar on a terminal and always prints a summary line.\n${ENVIRONMENT}`,
    options: { batch: { type: 'string' }, import: { type: 'boolean' }, 'keep-going': { type: 'boolean' } },
    async run(values, positionals) {
      const [file] = positionals
      if (!file || positionals.length > 1) throw new UsageError('give one file, or - for standard input')
      const batch = positiveInt(values.batch, 'batch', 1000)
      return withLateview((lateview) => ingestFile(lateview, file, { batch, imported: values.import === true, keepGoing: values['keep-going'] === true }))
    },
  },
  verify: {
    summary: 'recompute every Realtime cell from the store and compare',
    usage: 'lateview verify [--view <name>]',
    help: `Recomputes the Realtime cells of every view (or one) from the event store and lists any
difference. Exit code 1 when anything differs.\n${ENVIRONMENT}`,
    options: { view: { type: 'string' } },
    async run(values) {
      return withLateview(async (lateview) => {
        const names = typeof values.view === 'string' ? [values.view] : undefined
        const result = await lateview.verify(names)
        const viewCount = names?.length ?? lateview.programs.length
        if (result.differences.length > 0) {
          const show = (m: { measures: Record<string, number | null>; eventCount: number } | null) => (m ? `${JSON.stringify(m.measures)} (${m.eventCount} events)` : 'absent')
          out(table(['view', 'period', 'dims', 'stored', 'recomputed'], result.differences.map((d) => [d.view, d.period, JSON.stringify(d.dims), show(d.stored), show(d.recomputed)])))
        }
        out(`verified ${result.cells} realtime cells of ${viewCount} view${viewCount === 1 ? '' : 's'} at seq ${result.seq}: ${result.differences.length} differences`)
        return result.differences.length === 0 ? 0 : 1
      })
    },
  },
  fixtures: {
    summary: 'write a deterministic sample data set as NDJSON to stdout',
    usage: 'lateview fixtures <retail|lab> [--days 3] [--events 2000] [--seed 42] [--start 2026-11-02]',
    help: `Writes events of a retail chain (view daily_revenue) or a lab network (view
daily_positive_tests) in arrival order, one per line, with realistic lateness, a few duplicates
re-sent and a few retractions and corrections. --events is the number per day. Each line
carries its simulated receivedAt, which \`lateview ingest --import\` keeps.`,
    options: { days: { type: 'string' }, events: { type: 'string' }, seed: { type: 'string' }, start: { type: 'string' } },
    async run(values, positionals) {
      const [kind] = positionals
      if (kind !== 'retail' && kind !== 'lab') throw new UsageError('choose retail or lab')
      const start = values.start
      if (start !== undefined && (typeof start !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(start))) throw new UsageError('--start must be a date YYYY-MM-DD')
      const seedText = values.seed
      if (seedText !== undefined && (typeof seedText !== 'string' || !/^\d+$/.test(seedText))) throw new UsageError('--seed must be a non-negative integer')
      let events: FixtureEvent[]
      try {
        events = generateFixture(kind, {
          days: positiveInt(values.days, 'days', 3),
          events: positiveInt(values.events, 'events', 2000),
          ...(seedText !== undefined ? { seed: Number(seedText) } : {}),
          ...(typeof start === 'string' ? { start } : {}),
        })
      } catch (error) {
        if (error instanceof RangeError) throw new UsageError(error.message)
        throw error
      }
      let chunk = ''
      for (const e of events) {
        chunk += `${JSON.stringify(e)}\n`
        if (chunk.length > 1 << 16) {
          if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve))
          chunk = ''
        }
      }
      process.stdout.write(chunk)
      return 0
    },
  },
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length))
  return `lateview: reports on data that arrives late\n\nUsage: lateview <command> [options]   (lateview <command> --help for details)\n\n${Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n')}\n`
}

/** Runs the lateview command; returns the exit code (0 ok, 1 failure, 2 bad usage). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(usage())
    return name === undefined ? 2 : 0
  }
  const command = COMMANDS[name]
  if (!command) {
    err(`lateview: unknown command ${JSON.stringify(name)}\n\n${usage()}`)
    return 2
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
    if (values.help) {
      out(`Usage: ${command.usage}\n\n${command.help}`)
      return 0
    }
    return await command.run(values, positionals)
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`lateview ${name}: ${(error as Error).message}\nUsage: ${command.usage}`)
      return 2
    }
    if (error instanceof ViewDefinitionError) {
      err(`lateview: invalid view definition ${error.message}`)
      return 1
    }
    if (isLateviewError(error)) {
      err(`lateview: ${error.code}: ${error.message}`)
      return 1
    }
    err(`lateview: ${(error as Error).stack ?? String(error)}`)
    return 1
  }
}
