import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../src/cli/lateview.mjs', import.meta.url))

/**
 * The Node flags the `lateview` command runs with: those of its `#!/usr/bin/env -S node …` line.
 * A child started as `node <flags> src/cli/lateview.mjs` (tests, the bench) runs as users run it;
 * `node src/cli/lateview.mjs` alone would leave the shebang's flags out.
 */
export function lateviewNodeFlags(): string[] {
  const first = readFileSync(BIN, 'utf8').split('\n', 1)[0] ?? ''
  const match = /^#!\/usr\/bin\/env -S node(.*)$/.exec(first)
  if (!match) throw new Error(`${BIN}: the first line is not "#!/usr/bin/env -S node …"`)
  return (match[1] as string).trim().split(/\s+/).filter(Boolean)
}
