/**
 * Runs one period job once against LATEVIEW_DB and exits: for an external scheduler (system
 * cron, a Kubernetes CronJob) instead of, or beside, the server's own. The same options as
 * `lateview run <job>`: [--view <name>] [--period <key>] [--now <ISO>].
 */
import { main } from '../src/cli/main.js'
import type { JobName } from '../src/services/jobs.js'

export async function runJobEntry(job: JobName): Promise<void> {
  process.exitCode = await main(['run', job, ...process.argv.slice(2)])
}
