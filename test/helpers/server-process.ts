import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { lateviewNodeFlags } from './node-flags.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** A `lateview serve` process of a test, on a port of its own. */
export interface ServerProcess {
  child: ChildProcess
  url: string
  /** Everything it printed so far. */
  output: () => string
}

/** Starts `lateview serve` over `db` and `views`, and resolves once it listens (rejects if it exits first or takes 30 s). */
export function serveProcess(db: string, views: string, scheduler: 'on' | 'off'): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...lateviewNodeFlags(), 'src/cli/lateview.mjs', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, LATEVIEW_DB: db, LATEVIEW_VIEWS: views, PORT: '0', LATEVIEW_SCHEDULER: scheduler, LATEVIEW_LOG_LEVEL: 'info', FORCE_COLOR: '0', NO_COLOR: '1' },
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000)
    const seen = (d: Buffer) => {
      output += d.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve({ child, url: match[1] as string, output: () => output })
      }
    }
    child.stdout.on('data', seen)
    child.stderr.on('data', seen)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code ?? signal}:\n${output}`))
    })
  })
}

/** Resolves once the process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))
}
