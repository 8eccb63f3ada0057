// node --import tsx jobs/sla-watch.ts [--view <name>] [--period <key>] [--now <ISO>]
import { runJobEntry } from './run-job.js'

await runJobEntry(import.meta.filename)
