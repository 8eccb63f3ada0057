import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { TEST_PG_URL } from './engines.js'

const PGBOUNCER = process.env.LATEVIEW_TEST_PGBOUNCER ?? '/usr/sbin/pgbouncer'

export interface PgBouncer {
  port: number
  /** `LATEVIEW_DB` for a schema of the test database, through the pooler (`pgbouncer=true`). */
  url(schema: string, pooled?: boolean): string
  /** What PgBouncer printed and logged. */
  log(): string
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })
}

/**
 * Starts PgBouncer in transaction mode in front of the test database, on a free port, from an
 * ini file in a temporary folder (also its pid and log). `poolSize` server connections serve
 * every client, so clients' transactions land on whichever connection is free. Run as the
 * `postgres` OS user when this process is root (PgBouncer refuses to run as root). Throws, with
 * PgBouncer's log, when it does not answer within 10 s.
 */
export async function startPgBouncer(poolSize = 4): Promise<PgBouncer> {
  if (!existsSync(PGBOUNCER)) throw new Error(`${PGBOUNCER} is missing: install the pgbouncer package (apt-get install pgbouncer)`)
  const target = new URL(TEST_PG_URL)
  const dir = mkdtempSync(join(tmpdir(), 'lateview-pgbouncer-'))
  chmodSync(dir, 0o777)
  const port = await freePort()
  const database = target.pathname.slice(1)
  const user = decodeURIComponent(target.username) || 'postgres'
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`)
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${database} = host=${target.hostname} port=${target.port || 5432} dbname=${database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 500',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      `admin_users = ${user}`,
      '',
    ].join('\n'),
  )
  const root = process.getuid?.() === 0
  const child: ChildProcess = root
    ? spawn('runuser', ['-u', 'postgres', '--', PGBOUNCER, join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(PGBOUNCER, [join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()))
  let exited: number | null | undefined
  const closed = new Promise<void>((resolve) =>
    child.on('close', (code) => {
      exited = code
      resolve()
    }),
  )
  child.on('error', (error) => (output += String(error)))
  const log = () => {
    const file = join(dir, 'pgbouncer.log')
    return `${output}${existsSync(file) ? readFileSync(file, 'utf8') : ''}`
  }
  const base = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}`
  const started = Date.now()
  for (;;) {
    if (exited !== undefined) throw new Error(`pgbouncer exited with ${exited} before answering:\n${log()}`)
    const client = new pg.Client({ connectionString: base, connectionTimeoutMillis: 1000 })
    try {
      await client.connect()
      await client.query('select 1')
      await client.end()
      break
    } catch {
      await client.end().catch(() => undefined)
      if (Date.now() - started > 10_000) {
        child.kill('SIGKILL')
        throw new Error(`pgbouncer did not answer on port ${port} within 10 s:\n${log()}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    port,
    url(schema, pooled = true) {
      const url = new URL(base)
      url.searchParams.set('schema', schema)
      if (pooled) url.searchParams.set('pgbouncer', 'true')
      return url.toString()
    },
    log,
    async stop() {
      // PgBouncer's own pid (the child is runuser when this process is root).
      const pidFile = join(dir, 'pgbouncer.pid')
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : null
      if (exited === undefined) {
        if (pid) process.kill(pid, 'SIGINT')
        else child.kill('SIGINT')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await closed
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
