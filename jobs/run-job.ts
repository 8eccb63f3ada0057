/**
 * Runs one period job once against LATEVIEW_DB and exits: for an external scheduler (system
 * cron, a Kubernetes CronJob) instead of, or beside, the server's own. The same options as
 * `lateview run <job>`: [--view <name>] [--period <key>] [--now <ISO>].
 *
 * Each job of the table in src/domain/jobs.ts has an entry file here named after it, which
 * passes its own path: the job run is the one the file is named for, so an entry file cannot
 * name one job and run another.
 */
import { basename } from 'node:path'
import { main } from '../src/cli/main.js'
import { isJobName, type JobName } from '../src/domain/jobs.js'

/** The job an entry file runs: the one it is named after. */
export function jobOfEntry(file: string): JobName {
  const name = basename(file, '.ts')
  if (!isJobName(name)) throw new Error(`jobs/${basename(file)} is named after no job`)
  return name
}

export async function runJobEntry(file: string): Promise<void> {
  process.exitCode = await main(['run', jobOfEntry(file), ...process.argv.slice(2)])
}
