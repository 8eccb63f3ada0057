/**
 * A process that runs a WebhookDispatcher over a store and, when told, kills itself with SIGKILL
 * at one step of a delivery: the crash test's stand-in for a server killed with -9. The crash
 * hooks live here only, wrapped around the real dispatcher from outside (the global fetch, and a
 * Kysely plugin on the record's transaction), so production code carries none.
 *
 *   node --import tsx test/helpers/delivery-child.ts '<settings JSON>'
 *
 * LATEVIEW_DB names the store. LATEVIEW_TEST_CRASH_AT is `<step>@<n>`: die at the nth time
 * (counted in this process, from 1) the dispatcher reaches the step; unset, it never dies.
 * Steps, in the order an attempt passes them:
 *
 *   before-request     the delivery is leased, its request not yet sent
 *   after-response     the receiver got the request and answered; nothing recorded
 *   after-attempt-row  in the record's transaction: the attempt row written, the delivery not updated
 *   before-commit      in the record's transaction: both written, not committed
 *   after-commit       the record committed
 *
 * It writes JSON lines to stdout: `{"event":"ready"}`, `{"event":"crash","step":…,"n":…,"delivery":…}`
 * just before dying, and `{"event":"log",…}` for each line the dispatcher logs. After
 * `deadlineMs` without dying it stops and exits with code 3. Nothing is exported: importing
 * this file would run it.
 */
import { InsertQueryNode, TableNode, UpdateQueryNode, type KyselyPlugin, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely'
import { systemClock } from '../../src/domain/clock.js'
import { WebhookDispatcher } from '../../src/services/webhooks.js'
import { openEngine, type Engine, type WriteTx } from '../../src/store/engine.js'

const CRASH_STEPS = ['before-request', 'after-response', 'after-attempt-row', 'before-commit', 'after-commit'] as const
type CrashStep = (typeof CRASH_STEPS)[number]

interface ChildSettings {
  backoff: number[]
  timeoutMs: number
  leaseMs: number
  deadlineMs: number
}

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

function parseCrashAt(text: string | undefined): { step: CrashStep; n: number } | null {
  if (!text) return null
  const [step, n] = text.split('@')
  if (!CRASH_STEPS.includes(step as CrashStep)) throw new Error(`LATEVIEW_TEST_CRASH_AT: unknown step ${JSON.stringify(step)}`)
  return { step: step as CrashStep, n: n === undefined ? 1 : Number(n) }
}

const crashAt = parseCrashAt(process.env.LATEVIEW_TEST_CRASH_AT)
const reached = new Map<CrashStep, number>()

/** Counts a step, and at the chosen occurrence dies there and then: nothing after it runs. */
async function step(name: CrashStep, delivery?: string): Promise<void> {
  const n = (reached.get(name) ?? 0) + 1
  reached.set(name, n)
  if (!crashAt || crashAt.step !== name || crashAt.n !== n) return
  emit({ event: 'crash', step: name, n, delivery: delivery ?? null })
  process.kill(process.pid, 'SIGKILL')
  // The signal may take a moment to land: the caller must not go on meanwhile.
  await new Promise(() => {})
}

function tableOf(node: RootOperationNode): string | null {
  if (InsertQueryNode.is(node)) return node.into?.table.identifier.name ?? null
  if (UpdateQueryNode.is(node) && node.table && TableNode.is(node.table)) return node.table.table.identifier.name
  return null
}

/**
 * Watches the statements of one record transaction: the attempt row's insert, then the
 * delivery's update, each reported once it has run (inside the transaction, not committed).
 */
function recordWatcher(): KyselyPlugin {
  const watched = new Map<string, CrashStep>()
  let rowWritten = false
  return {
    transformQuery({ node, queryId }) {
      const table = tableOf(node)
      if (table === 'delivery_attempts' && InsertQueryNode.is(node)) watched.set(queryId.queryId, 'after-attempt-row')
      else if (table === 'deliveries' && UpdateQueryNode.is(node) && rowWritten) watched.set(queryId.queryId, 'before-commit')
      return node
    },
    async transformResult({ result, queryId }): Promise<QueryResult<UnknownRow>> {
      const name = watched.get(queryId.queryId)
      watched.delete(queryId.queryId)
      if (name === 'after-attempt-row') {
        rowWritten = true
        await step(name)
      } else if (name === 'before-commit') {
        rowWritten = false
        await step(name)
      }
      return result
    },
  }
}

/** The engine, its write transactions watched; the dispatcher writes only to record attempts. */
function watchedEngine(engine: Engine): Engine {
  const write: Engine['write'] = async (fn) => {
    const result = await engine.write((tx) => fn(Object.create(tx, { db: { value: { ...tx.db, kysely: tx.db.kysely.withPlugin(recordWatcher()) } } }) as WriteTx))
    await step('after-commit')
    return result
  }
  return Object.create(engine, { write: { value: write } }) as Engine
}

const realFetch = globalThis.fetch
globalThis.fetch = async (input, init) => {
  const headers = (init?.headers ?? {}) as Record<string, string>
  const delivery = headers['webhook-id']
  await step('before-request', delivery)
  const response = await realFetch(input, init)
  await step('after-response', delivery)
  return response
}

const location = process.env.LATEVIEW_DB
if (!location) throw new Error('LATEVIEW_DB is not set')
const settings = JSON.parse(process.argv[2] ?? '{}') as ChildSettings
const engine = await openEngine(location)
const dispatcher = new WebhookDispatcher(watchedEngine(engine), {
  backoff: settings.backoff,
  timeoutMs: settings.timeoutMs,
  leaseMs: settings.leaseMs,
  clock: systemClock,
  random: () => 0.5,
  log: (message, fields) => emit({ event: 'log', message, ...fields }),
})
dispatcher.start()
emit({ event: 'ready' })
setTimeout(() => {
  void dispatcher
    .stop()
    .then(() => engine.close())
    .finally(() => process.exit(3))
}, settings.deadlineMs)
