import { existsSync, readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { generateFixture, type FixtureEvent } from '../../fixtures/generate.js'
import { isSubject, loadConfig, type LateviewConfig, type NatsConfig } from '../config.js'
import { systemClock } from '../domain/clock.js'
import { ViewDefinitionError } from '../domain/view.js'
import { isLateviewError } from '../errors.js'
import { Lateview } from '../services/lateview.js'
import { loadViewFiles } from '../services/view-files.js'
import { toJson } from '../domain/decimal.js'
import type { Measures } from '../domain/lifecycle.js'
import { INSTANT_FORM, parseInstantInRange } from '../domain/time.js'
import { parseTarget } from '../domain/analysis.js'
import { isJobName, JOB_NAMES } from '../services/jobs.js'
import { rangeOrThrow, reportCsv } from '../services/reports.js'
import { analysisSummary, printAnalysis } from './analysis.js'
import { consume, defaultSubject, publishFile } from './broker.js'
import { runDemo } from './demo.js'
import { ingestFile } from './ingest.js'
import { err, InputError, out, prettyJson, table, UsageError } from './output.js'

interface Command {
  summary: string
  usage: string
  help: string
  options: NonNullable<ParseArgsConfig['options']>
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>
}

const ENVIRONMENT = `Environment: LATEVIEW_DB (SQLite path or postgres:// URL, default ./data/lateview.db),
LATEVIEW_VIEWS (default ./views); see the README for every variable.`

/** The jobs as a sentence lists them: `a, b or c`. */
const JOB_LIST = `${JOB_NAMES.slice(0, -1).join(', ')} or ${JOB_NAMES.at(-1)}`

async function openFromEnv(): Promise<Lateview> {
  const config = loadConfig()
  return Lateview.open({ db: config.db, readDb: config.readDb, readWaitMs: config.readWaitMs, views: loadViewFiles(config.viewsDir), clock: systemClock, limits: config.eventLimits })
}

async function withLateview(fn: (lateview: Lateview) => Promise<number>): Promise<number> {
  const lateview = await openFromEnv()
  try {
    return await fn(lateview)
  } finally {
    await lateview.close()
  }
}

/** The broker settings; a usage error when LATEVIEW_NATS_URL is unset. */
function natsOf(config: Readonly<LateviewConfig>): NatsConfig {
  if (!config.nats) throw new UsageError('set LATEVIEW_NATS_URL, e.g. nats://127.0.0.1:4222')
  return config.nats
}

/** `--format`: one of `allowed`, `table` by default. */
function formatOf<F extends string>(value: string | boolean | undefined, allowed: readonly F[]): F {
  const format = value ?? 'table'
  if (typeof format !== 'string' || !(allowed as readonly string[]).includes(format)) {
    throw new UsageError(`--format is ${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`)
  }
  return format as F
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
      // Loaded here only: the HTTP stack is not needed by the other commands' start-up.
      const { startServer } = await import('../server.js')
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
  consume: {
    summary: 'consume events from NATS JetStream into the store (no HTTP server)',
    usage: 'lateview consume',
    help: `Consumes the stream LATEVIEW_NATS_STREAM (subjects LATEVIEW_NATS_SUBJECTS) through the
durable pull consumer LATEVIEW_NATS_DURABLE, shared by every lateview process, in atomic batches of
up to LATEVIEW_NATS_BATCH. Each message is acknowledged after its batch committed; a refused one
goes to LATEVIEW_NATS_DEAD_LETTER with its problem document. Runs until SIGINT or SIGTERM.
\`lateview serve\` does the same when LATEVIEW_NATS_URL is set.\n${ENVIRONMENT}`,
    options: {},
    async run(_values, positionals) {
      if (positionals.length > 0) throw new UsageError('consume takes no argument')
      const config = loadConfig()
      const nats = natsOf(config)
      return withLateview((lateview) => consume(lateview, nats))
    },
  },
  publish: {
    summary: 'publish events from an NDJSON file or - (stdin) to NATS JetStream',
    usage: 'lateview publish <file.ndjson|-> [--subject lateview.events.<x>]',
    help: `Publishes each line as one message to the stream LATEVIEW_NATS_STREAM (created when missing),
waiting for JetStream's acknowledgements. A line holding an event's source and id carries a
Nats-Msg-Id made from them, so that the stream drops a re-sent event within its duplicate window.
--subject defaults to the first of LATEVIEW_NATS_SUBJECTS with its wildcards made "default".\n${ENVIRONMENT}`,
    options: { subject: { type: 'string' } },
    async run(values, positionals) {
      const [file] = positionals
      if (!file || positionals.length > 1) throw new UsageError('give one file, or - for standard input')
      if (file !== '-' && !existsSync(file)) throw new InputError(`cannot read ${file}: no such file`)
      const nats = natsOf(loadConfig())
      const subject = typeof values.subject === 'string' ? values.subject : defaultSubject(nats)
      if (!isSubject(subject, false)) throw new UsageError(`--subject ${JSON.stringify(subject)} is not a NATS subject without wildcards`)
      return publishFile(nats, file, subject)
    },
  },
  ingest: {
    summary: 'append events from an NDJSON file or - (stdin)',
    usage: 'lateview ingest <file.ndjson|-> [--batch 1000] [--import] [--keep-going] [--format table|json]',
    help: `Appends events, one JSON object per line, in atomic batches (--batch, default 1000).
A refused batch writes nothing and stops the run (--keep-going goes on with the next batch).
--import keeps each event's receivedAt (history import; must not go back in time).
Shows a progress bar on a terminal and always prints a summary line (--format json: one JSON object).\n${ENVIRONMENT}`,
    options: { batch: { type: 'string' }, import: { type: 'boolean' }, 'keep-going': { type: 'boolean' }, format: { type: 'string' } },
    async run(values, positionals) {
      const [file] = positionals
      if (!file || positionals.length > 1) throw new UsageError('give one file, or - for standard input')
      const batch = positiveInt(values.batch, 'batch', 1000)
      const format = formatOf(values.format, ['table', 'json'] as const)
      if (file !== '-' && !existsSync(file)) throw new InputError(`cannot read ${file}: no such file`)
      return withLateview((lateview) => ingestFile(lateview, file, { batch, imported: values.import === true, keepGoing: values['keep-going'] === true, format }))
    },
  },
  verify: {
    summary: 'recompute every Realtime cell and revision from the store and compare',
    usage: 'lateview verify [--view <name>] [--format table|json]',
    help: `Recomputes the Realtime cells of every view (or one) from the event store, and every
published revision at its cutoff, and lists any difference. Exit code 1 when anything differs.
--format json prints { seq, cells, views, differences, revisions, revisionDifferences }.\n${ENVIRONMENT}`,
    options: { view: { type: 'string' }, format: { type: 'string' } },
    async run(values, positionals) {
      if (positionals.length > 0) throw new UsageError('verify takes no argument (--view names one view)')
      const format = formatOf(values.format, ['table', 'json'] as const)
      return withLateview(async (lateview) => {
        const names = typeof values.view === 'string' ? [values.view] : undefined
        const { realtime: result, revisions } = await lateview.verifyStore(names)
        const viewCount = names?.length ?? lateview.programs.length
        const clean = result.differences.length + revisions.differences.length === 0
        if (format === 'json') {
          out(
            toJson({
              seq: result.seq,
              cells: result.cells,
              views: viewCount,
              differences: result.differences,
              revisions: revisions.revisions,
              revisionDifferences: revisions.differences,
            }),
          )
          return clean ? 0 : 1
        }
        if (result.differences.length > 0) {
          const show = (m: { measures: Measures; eventCount: number } | null) => (m ? `${toJson(m.measures)} (${m.eventCount} events)` : 'absent')
          out(
            table(
              ['view', 'period', 'dims', 'stored', 'recomputed'],
              result.differences.map((d) => [d.view, d.period, toJson(d.dims), show(d.stored), show(d.recomputed)]),
            ),
          )
        }
        if (revisions.differences.length > 0)
          out(
            table(
              ['view', 'period', 'revision', 'problem'],
              revisions.differences.map((d) => [d.view, d.period, d.revision, d.problem]),
            ),
          )
        out(`verified ${result.cells} realtime cells of ${viewCount} view${viewCount === 1 ? '' : 's'} at seq ${result.seq}: ${result.differences.length} differences`)
        out(`verified ${revisions.revisions} revisions against recomputations at their cutoffs: ${revisions.differences.length} differences`)
        return clean ? 0 : 1
      })
    },
  },
  run: {
    summary: `run a job now: ${JOB_LIST}`,
    usage: `lateview run <${JOB_NAMES.join('|')}> [--view <name>] [--period <key>] [--now <ISO>] [--format table|json]`,
    help: `Runs a period job against LATEVIEW_DB and prints the runs it recorded. Without --period,
every period due at now; with it, that period even if not yet due. --now replays the job at a
past instant (it publishes what was received by then). --format json prints the runs as a JSON array.\n${ENVIRONMENT}`,
    options: { view: { type: 'string' }, period: { type: 'string' }, now: { type: 'string' }, format: { type: 'string' } },
    async run(values, positionals) {
      const [job] = positionals
      if (!job || !isJobName(job) || positionals.length > 1) throw new UsageError(`choose one job: ${JOB_NAMES.join(', ')}`)
      const now = values.now === undefined ? undefined : parseInstantInRange(values.now)
      if (now === null) throw new UsageError(`--now must be ${INSTANT_FORM}`)
      if (values.period !== undefined && values.view === undefined) throw new UsageError('--period needs --view')
      const format = formatOf(values.format, ['table', 'json'] as const)
      return withLateview(async (lateview) => {
        if (typeof values.view === 'string' && typeof values.period === 'string') rangeOrThrow(lateview.view(values.view), values.period)
        const runs = await lateview.jobs.run(job, {
          ...(typeof values.view === 'string' ? { view: values.view } : {}),
          ...(typeof values.period === 'string' ? { period: values.period } : {}),
          ...(now !== undefined ? { now } : {}),
          trigger: 'manual',
        })
        if (format === 'json') out(toJson(runs))
        else
          out(
            runs.length === 0
              ? `${job}: nothing due`
              : table(
                  ['job', 'view', 'period', 'outcome', 'revision', 'detail', 'ms'],
                  runs.map((r) => [r.job, r.view, r.period, r.outcome, r.revision, r.detail, r.durationMs]),
                ),
          )
        return runs.some((r) => r.outcome === 'failed') ? 1 : 0
      })
    },
  },
  report: {
    summary: 'print a period report: latest, --revision N or --as-of ISO',
    usage: 'lateview report <view> <period> [--revision N | --as-of ISO] [--format table|json|csv]',
    help: `Prints a published revision (the latest by default) or what was known at an instant.\n${ENVIRONMENT}`,
    options: { revision: { type: 'string' }, 'as-of': { type: 'string' }, format: { type: 'string' } },
    async run(values, positionals) {
      const [view, period] = positionals
      if (!view || !period || positionals.length > 2) throw new UsageError('give a view and a period')
      if (values.revision !== undefined && values['as-of'] !== undefined) throw new UsageError('give --revision or --as-of, not both')
      const revision = values.revision === undefined ? undefined : positiveInt(values.revision, 'revision', 1)
      const asOf = values['as-of'] === undefined ? undefined : parseInstantInRange(values['as-of'])
      if (asOf === null) throw new UsageError(`--as-of must be ${INSTANT_FORM}`)
      const format = formatOf(values.format, ['table', 'json', 'csv'] as const)
      return withLateview(async (lateview) => {
        const report = await lateview.report(view, period, { ...(revision !== undefined ? { revision } : {}), ...(asOf !== undefined ? { asOf } : {}) })
        // A revision is shown under the definition it was published with.
        const program = await lateview.programOf(report)
        if (format === 'json') out(prettyJson(report))
        else if (format === 'csv') process.stdout.write(reportCsv(program, report))
        else {
          const def = program.view
          out(
            `${report.view} ${report.period} · ${report.status} · ${report.revision === null ? 'as of' : `revision ${report.revision}`} (${report.kind}) · cutoff seq ${report.cutoffSeq} received ${report.cutoffReceivedAt ?? '-'} · ${report.eventCount} events, ${report.lateEventCount} late${report.completeness === null ? '' : ` · ${Math.round(report.completeness * 100)}% complete`}`,
          )
          const measures = def.measures.map((m) => m.name)
          out(
            table(
              [...def.dimensions, ...measures, 'events'],
              [
                ...report.rows.map((r) => [...def.dimensions.map((d) => String(r.dims[d])), ...measures.map((m) => r.measures[m] ?? null), r.eventCount]),
                [...def.dimensions.map((_, i) => (i === 0 ? 'total' : undefined)), ...measures.map((m) => report.totals.measures[m] ?? null), report.totals.eventCount],
              ],
            ),
          )
        }
        return 0
      })
    },
  },
  accuracy: {
    summary: 'how accurate each release was, when periods are complete, when to close',
    usage: 'lateview accuracy <view> [--from <period>] [--to <period>] [--measure <name>] [--against final|latest] [--target 0.999] [--format table|json|csv]',
    help: `Prints the accuracy of each release kind (flash, consolidated, revision, final, restatement)
against the final revision (--against latest: the latest one), the share of the benchmark known at
the view's consolidation and close times, and what closing at D+1 … D+14 would have cost in
restatements, with the earliest close that keeps --target of the value and an SLA per source.
--from and --to are period keys (default: the last 30 periods with events); --measure defaults to
the view's first. --format csv prints the accuracy by release. See the README, "Revision analysis".\n${ENVIRONMENT}`,
    options: { from: { type: 'string' }, to: { type: 'string' }, measure: { type: 'string' }, against: { type: 'string' }, target: { type: 'string' }, format: { type: 'string' } },
    async run(values, positionals) {
      const [view] = positionals
      if (!view || positionals.length > 1) throw new UsageError('give one view')
      const format = formatOf(values.format, ['table', 'json', 'csv'] as const)
      const against = values.against
      if (against !== undefined && against !== 'final' && against !== 'latest') throw new UsageError('--against is final or latest')
      let target: number
      try {
        target = parseTarget(typeof values.target === 'string' ? values.target : undefined)
      } catch {
        throw new UsageError('--target is a share above 0 and at most 1, e.g. 0.999')
      }
      return withLateview(async (lateview) => {
        const summary = await analysisSummary(lateview, view, {
          ...(typeof values.from === 'string' ? { from: values.from } : {}),
          ...(typeof values.to === 'string' ? { to: values.to } : {}),
          ...(typeof values.measure === 'string' ? { measure: values.measure } : {}),
          ...(against !== undefined ? { against } : {}),
          target,
          format,
        })
        printAnalysis(summary, format, target)
        return 0
      })
    },
  },
  diff: {
    summary: 'explain what changed between two revisions (or asOf:<ISO>)',
    usage: 'lateview diff <view> <period> <from> <to> [--format table|json|csv]',
    help: `Lists each changed cell between two revisions (numbers) or instants (asOf:<ISO>), with the
events that explain the change. --format csv writes the comparison as the HTTP API does: one line
per row of either side, unchanged ones too, each measure before, after and delta, events, status.\n${ENVIRONMENT}`,
    options: { format: { type: 'string' } },
    async run(values, positionals) {
      const [view, period, from, to] = positionals
      if (!view || !period || !from || !to || positionals.length > 4) throw new UsageError('give a view, a period and two revisions')
      const side = (text: string) => {
        if (text.startsWith('asOf:')) {
          const at = parseInstantInRange(text.slice(5))
          if (at === null) throw new UsageError(`${text} is not asOf:<ISO instant>`)
          return { asOf: at }
        }
        return { revision: positiveInt(text, 'revision', 1) }
      }
      const format = formatOf(values.format, ['table', 'json', 'csv'] as const)
      return withLateview(async (lateview) => {
        if (format === 'csv') {
          process.stdout.write(await lateview.diffCsv(view, period, side(from), side(to)))
          return 0
        }
        const diff = await lateview.diff(view, period, side(from), side(to))
        if (format === 'json') {
          out(prettyJson(diff))
          return 0
        }
        out(`${diff.view} ${diff.period}: ${diff.from.label} (seq ${diff.from.cutoffSeq}) → ${diff.to.label} (seq ${diff.to.cutoffSeq}): ${diff.changes.length} changed cells`)
        if (diff.definition) out(`the definition changed: ${diff.definition.note}`)
        for (const change of diff.changes) {
          out(
            `\n${toJson(change.dims)}  before ${toJson(change.before)}  after ${toJson(change.after)}  Δ ${toJson(change.delta)}${change.definitionEffect ? `  by the definition ${toJson(change.definitionEffect)}` : ''}`,
          )
          out(
            table(
              ['seq', 'source', 'id', 'occurred', 'received', 'retracts', 'contribution'],
              change.events.map((e) => [e.seq, e.source, e.id, e.occurredAt, e.receivedAt, e.retracts ?? '', toJson(e.contribution)]),
            ),
          )
        }
        return 0
      })
    },
  },
  demo: {
    summary: 'simulate days of a fixture through ingest and jobs and print the revision history',
    usage: 'lateview demo [retail|lab] [--days 4] [--events 400] [--seed 42] [--db <path>] [--format table|json]',
    help: `On a fresh temporary SQLite database (or --db), replays a fixture on a simulated clock:
events arrive when they would have, flash, consolidate, rebuild and close run at their scheduled
times. Prints each period's revisions (flash → consolidated → revisions → final → restatements)
and verifies every figure afterwards. --format json prints one JSON object instead:
{ kind, view, timezone, store, events, ingested, jobRuns, revisionsPublished, periods, verify, analysis }.`,
    options: { days: { type: 'string' }, events: { type: 'string' }, seed: { type: 'string' }, db: { type: 'string' }, format: { type: 'string' } },
    async run(values, positionals) {
      const kind = positionals[0] ?? 'retail'
      if ((kind !== 'retail' && kind !== 'lab') || positionals.length > 1) throw new UsageError('choose retail or lab')
      const format = formatOf(values.format, ['table', 'json'] as const)
      const config = loadConfig()
      return runDemo({
        kind,
        days: positiveInt(values.days, 'days', 4),
        events: positiveInt(values.events, 'events', 400),
        seed: values.seed === undefined ? 42 : positiveInt(values.seed, 'seed', 42),
        db: typeof values.db === 'string' ? values.db : null,
        views: loadViewFiles(config.viewsDir),
        format,
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
  return `lateview: reports on data that arrives late\n\nUsage: lateview <command> [options]   (lateview help <command>, or lateview <command> --help, for details)\n\n${Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n')}\n\n  --version  print the version\n`
}

/** The version of the installed package. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/**
 * A reader that stops reading (`lateview diff … | head -1`) closes the pipe: the rest of the
 * output has nowhere to go, and the command ends quietly with 0 rather than with an EPIPE trace.
 */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0)
    throw error
  })
}

/** Runs the lateview command; returns the exit code (0 ok, 1 failure, 2 bad usage). */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe()
  const [name, ...rest] = argv
  if (name === '--version' || name === '-V' || name === 'version') {
    out(version())
    return 0
  }
  if (name === 'help' && rest.length > 0) {
    const [topic, ...more] = rest
    const command = COMMANDS[topic as string]
    if (!command || more.length > 0) {
      err(`lateview help: unknown command ${JSON.stringify(rest.join(' '))}\n\n${usage()}`)
      return 2
    }
    out(`Usage: ${command.usage}\n\n${command.help}`)
    return 0
  }
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
    if (error instanceof InputError) {
      err(`lateview ${name}: ${error.message}`)
      return 1
    }
    // Anything else is one line too (a file that cannot be read, a store that cannot be reached);
    // LATEVIEW_DEBUG=1 prints the stack.
    const e = error as NodeJS.ErrnoException
    if (process.env.LATEVIEW_DEBUG === '1') err(`lateview ${name}: ${e.stack ?? String(error)}`)
    else err(`lateview ${name}: ${e.message ?? String(error)}${e.code && !String(e.message).includes(e.code) ? ` (${e.code})` : ''}`)
    return 1
  }
}
