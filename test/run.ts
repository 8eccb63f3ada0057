/**
 * Runs the type-check and every test file, each file in a process of its own, and ends with the
 * line `N passed, N failed`. uvu prints no such line and does not fail on errors thrown in
 * before/after hooks, so this counts from uvu's totals (uvu's Total leaves skipped tests out: failed = total - passed) and
 * treats a file that crashes, exits non-zero or runs no test as a failure.
 *
 *   npm test                 every file
 *   npm test -- store api    files whose path contains "store" or "api"
 */
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = join(import.meta.dirname, '..')
const filters = process.argv.slice(2)
const FILE_TIMEOUT_MS = 10 * 60 * 1000
const CONCURRENCY = Number(process.env.LATEVIEW_TEST_CONCURRENCY ?? 2)

interface Outcome {
  name: string
  passed: number
  failed: number
  skipped: number
  output: string
  ms: number
}

function findTests(): string[] {
  return readdirSync(join(root, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join('test', f))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
    .sort()
}

function run(name: string, command: string, args: string[]): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    const timer = setTimeout(() => {
      output += `\n${name}: killed after ${FILE_TIMEOUT_MS / 1000} s\n`
      child.kill('SIGKILL')
    }, FILE_TIMEOUT_MS)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output, ms: Date.now() - started })
    })
  })
}

function count(output: string, label: string): number | null {
  // eslint-disable-next-line no-control-regex
  const clean = output.replace(/\u001b\[[0-9;]*m/g, '')
  const match = new RegExp(`^\\s*${label}:\\s+(\\d+)\\s*$`, 'm').exec(clean)
  return match ? Number(match[1]) : null
}

async function runFile(file: string): Promise<Outcome> {
  const { code, output, ms } = await run(file, process.execPath, ['--import', 'tsx', file])
  const total = count(output, 'Total')
  const passed = count(output, 'Passed') ?? 0
  const skipped = count(output, 'Skipped') ?? 0
  let failed = total === null ? 0 : total - passed
  let note = ''
  if (total === null) note = 'crashed before uvu reported'
  else if (total === 0 && skipped === 0) note = 'ran no test'
  else if (code !== 0 && failed === 0) note = `exited with code ${code}`
  if (note) {
    failed += 1
  }
  return { name: file, passed, failed, skipped, output: note ? `${output}\n!! ${file}: ${note}\n` : output, ms }
}

async function main(): Promise<void> {
  const outcomes: Outcome[] = []
  if (filters.length === 0 || filters.includes('typecheck')) {
    // The server and tests, then the analyst page's browser modules (checked JavaScript).
    let tsc = await run('typecheck', process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json'])
    if (tsc.code === 0) tsc = await run('typecheck', process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.ui.json'])
    outcomes.push({ name: 'typecheck', passed: tsc.code === 0 ? 1 : 0, failed: tsc.code === 0 ? 0 : 1, skipped: 0, output: tsc.output, ms: tsc.ms })
    process.stdout.write(`${tsc.code === 0 ? 'ok  ' : 'FAIL'} typecheck (${tsc.ms} ms)\n${tsc.code === 0 ? '' : tsc.output}`)
  }
  const queue = findTests()
  const workers = Array.from({ length: Math.max(1, CONCURRENCY) }, async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const outcome = await runFile(file)
      outcomes.push(outcome)
      const status = outcome.failed === 0 ? 'ok  ' : 'FAIL'
      process.stdout.write(`${status} ${relative('.', outcome.name)}: ${outcome.passed} passed, ${outcome.failed} failed (${outcome.ms} ms)\n`)
      if (outcome.failed > 0 || process.env.LATEVIEW_TEST_VERBOSE) process.stdout.write(`${outcome.output}\n`)
    }
  })
  await Promise.all(workers)
  const passed = outcomes.reduce((n, o) => n + o.passed, 0)
  const failed = outcomes.reduce((n, o) => n + o.failed, 0)
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`)
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0
}

await main()
