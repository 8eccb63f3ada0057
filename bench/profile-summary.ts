/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): the functions with the most self time and the
 * most inclusive time, as shares of the profile, so a benchmark's slow phase can be located.
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [--top 25] [--filter src/]
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface ProfileLine {
  name: string
  selfMs: number
  totalMs: number
}

function label(node: ProfileNode): string {
  const f = node.callFrame
  const url = f.url.replace(/^file:\/\//, '').replace(/^.*?\/(src|bench|fixtures|node_modules)\//, '$1/')
  return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim()
}

/** Self and inclusive time per function (recursion counted once per sample). */
export function summarise(profile: Profile): { totalMs: number; lines: ProfileLine[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode
    const name = label(node)
    self.set(name, (self.get(name) ?? 0) + us)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = label(byId.get(cur) as ProfileNode)
      if (seen.has(n)) continue
      seen.add(n)
      total.set(n, (total.get(n) ?? 0) + us)
    }
  }
  const lines = [...total.keys()].map((name) => ({ name, selfMs: (self.get(name) ?? 0) / 1000, totalMs: (total.get(name) ?? 0) / 1000 }))
  return { totalMs: (profile.endTime - profile.startTime) / 1000, lines }
}

function main(): void {
  const args = process.argv.slice(2)
  const file = args.find((a) => !a.startsWith('--'))
  if (!file) {
    process.stderr.write('usage: bench/profile-summary.ts <file.cpuprofile> [--top N] [--filter text]\n')
    process.exit(2)
  }
  const topAt = args.indexOf('--top')
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25
  const filterAt = args.indexOf('--filter')
  const filter = filterAt >= 0 ? (args[filterAt + 1] ?? '') : ''
  const { totalMs, lines } = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile)
  const pct = (ms: number) => `${((100 * ms) / totalMs).toFixed(1).padStart(5)} %`
  const show = (title: string, key: 'selfMs' | 'totalMs') => {
    process.stdout.write(`\n${title} (profile ${totalMs.toFixed(0)} ms)\n`)
    const rows = lines
      .filter((l) => l.name.includes(filter))
      .sort((a, b) => b[key] - a[key])
      .slice(0, top)
    for (const l of rows) process.stdout.write(`${l[key].toFixed(0).padStart(8)} ms ${pct(l[key])}  ${l.name}\n`)
  }
  show('self time', 'selfMs')
  show('inclusive time', 'totalMs')
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) main()
