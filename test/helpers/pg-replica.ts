/**
 * A PostgreSQL primary and its streaming replica of their own, for the replica suites: the test
 * server on 5432 takes no replication connections, so these are made from scratch in a temporary
 * folder (initdb, pg_basebackup -R), on free ports, as the `postgres` OS user, and removed after.
 * Anything missing (the server binaries, runuser, the postgres user) is an error, never a skip.
 */
import { execFile, spawnSync } from 'node:child_process'
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export interface Cluster {
  readonly name: 'primary' | 'replica'
  readonly dir: string
  readonly port: number
  /** A postgres:// URL of a database of the cluster. */
  url(database?: string): string
}

export interface ReplicaPair {
  primary: Cluster
  replica: Cluster
  /** Waits until the replica has replayed everything the primary has written so far. */
  caughtUp(timeoutMs?: number): Promise<void>
  /** Pauses WAL replay on the replica (and waits until it is paused); `resumeReplay` resumes it. */
  pauseReplay(): Promise<void>
  resumeReplay(): Promise<void>
  /** Stops a cluster (fast shutdown). */
  stop(cluster: Cluster): Promise<void>
  /**
   * Stops both clusters and removes the folder; synchronous and safe to call twice (it also runs
   * when the process exits). Returns the problems met, empty when everything is gone.
   */
  cleanup(): string[]
}

const ROOT = '/usr/lib/postgresql'

/** The bin folder of the newest PostgreSQL server installed under /usr/lib/postgresql/<version>/. */
export function postgresBin(): string {
  const versions = existsSync(ROOT) ? readdirSync(ROOT).filter((v) => /^\d+(\.\d+)?$/.test(v)) : []
  versions.sort((a, b) => Number(b) - Number(a))
  for (const version of versions) {
    const bin = join(ROOT, version, 'bin')
    if (['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'].every((tool) => existsSync(join(bin, tool)))) return bin
  }
  throw new Error(`no PostgreSQL server under ${ROOT}/<version>/bin (initdb, pg_ctl, pg_basebackup, postgres): the replica suite needs one`)
}

function idOf(flag: '-u' | '-g'): number {
  const result = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' })
  const id = Number(result.stdout?.trim())
  if (result.status !== 0 || !Number.isInteger(id)) throw new Error(`the postgres OS user is needed to run a PostgreSQL server as root: id ${flag} postgres: ${result.stderr || result.error?.message}`)
  return id
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Runs a PostgreSQL tool as the postgres OS user; fails with its output. */
function asPostgres(bin: string, tool: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`runuser -u postgres -- ${tool} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`))
      else resolve(stdout)
    })
  })
}

async function query<R>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return (await client.query(text)).rows as R[]
  } finally {
    await client.end()
  }
}

/** Creates, configures and starts a primary and a streaming replica of it. */
export async function startReplicaPair(): Promise<ReplicaPair> {
  const bin = postgresBin()
  const uid = idOf('-u')
  const gid = idOf('-g')
  const dir = mkdtempSync(join(tmpdir(), 'lateview-replica-'))
  chownSync(dir, uid, gid)
  const cluster = (name: 'primary' | 'replica', port: number): Cluster => ({
    name,
    dir: join(dir, name),
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
  })
  const [primaryPort, replicaPort] = [await freePort(), await freePort()]
  const primary = cluster('primary', primaryPort)
  const replica = cluster('replica', replicaPort as number)
  const started = new Set<Cluster>()
  let cleaned = false
  // Interrupted (Ctrl-C, a killed test run): the clusters go first, then the signal does its work.
  const onSignal = (signal: NodeJS.Signals) => {
    const problems = cleanup()
    if (problems.length > 0) console.error(`!! ${problems.join('\n!! ')}`)
    process.kill(process.pid, signal)
  }
  const cleanup = (): string[] => {
    if (cleaned) return []
    cleaned = true
    process.off('exit', cleanup)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    const problems: string[] = []
    for (const c of started) {
      const result = spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', c.dir, '-m', 'immediate', '-w', '-t', '20', 'stop'], { encoding: 'utf8' })
      // pg_ctl answers 1 when the server was not running (already stopped): the pid file tells.
      if (existsSync(join(c.dir, 'postmaster.pid'))) problems.push(`the ${c.name} cluster (port ${c.port}) did not stop: ${result.stderr}`)
    }
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch (error) {
      problems.push(`${dir} was not removed: ${(error as Error).message}`)
    }
    if (existsSync(dir)) problems.push(`${dir} is still there`)
    return problems
  }
  process.on('exit', cleanup)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const start = async (c: Cluster) => {
    started.add(c)
    await asPostgres(bin, 'pg_ctl', ['-D', c.dir, '-l', join(dir, `${c.name}.log`), '-w', '-t', '30', 'start']).catch((error: Error) => {
      const log = existsSync(join(dir, `${c.name}.log`)) ? readFileSync(join(dir, `${c.name}.log`), 'utf8') : ''
      throw new Error(`${error.message}\n${log}`)
    })
  }
  try {
    await asPostgres(bin, 'initdb', ['-D', primary.dir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'])
    appendFileSync(
      join(primary.dir, 'postgresql.conf'),
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${primary.port}`,
        `unix_socket_directories = '${dir}'`,
        'wal_level = replica',
        'max_wal_senders = 4',
        'max_connections = 50',
        'shared_buffers = 16MB',
        'fsync = off',
        '',
      ].join('\n'),
    )
    // Trust on 127.0.0.1, replication connections included (initdb -A trust writes the same lines).
    appendFileSync(join(primary.dir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n')
    await start(primary)
    await asPostgres(bin, 'pg_basebackup', ['-R', '-c', 'fast', '-X', 'stream', '-D', replica.dir, '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres'])
    // The copy holds the primary's settings: only the port differs (hot_standby is on by default).
    appendFileSync(join(replica.dir, 'postgresql.auto.conf'), `port = ${replica.port}\n`)
    await start(replica)
    const [standby] = await query<{ standby: boolean }>(replica.url(), 'select pg_is_in_recovery() as standby')
    if (standby?.standby !== true) throw new Error('the second cluster is not a standby')
  } catch (error) {
    const problems = cleanup()
    if (problems.length > 0) console.error(`!! ${problems.join('\n!! ')}`)
    throw error
  }

  return {
    primary,
    replica,
    async caughtUp(timeoutMs = 10_000) {
      const [{ lsn } = { lsn: '' }] = await query<{ lsn: string }>(primary.url(), 'select pg_current_wal_lsn()::text as lsn')
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const [row] = await query<{ done: boolean }>(replica.url(), `select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn as done`)
        if (row?.done) return
        if (Date.now() > deadline) throw new Error(`the replica did not replay up to ${lsn} within ${timeoutMs} ms`)
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    async pauseReplay() {
      await query(replica.url(), 'select pg_wal_replay_pause()')
      const deadline = Date.now() + 10_000
      while ((await query<{ state: string }>(replica.url(), 'select pg_get_wal_replay_pause_state() as state'))[0]?.state !== 'paused') {
        if (Date.now() > deadline) throw new Error('replay did not pause')
        await new Promise((r) => setTimeout(r, 10))
      }
    },
    async resumeReplay() {
      await query(replica.url(), 'select pg_wal_replay_resume()')
    },
    async stop(c: Cluster) {
      await asPostgres(bin, 'pg_ctl', ['-D', c.dir, '-m', 'fast', '-w', '-t', '30', 'stop'])
    },
    cleanup,
  }
}
