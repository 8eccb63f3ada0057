// node --import tsx jobs/close.ts [--view <name>] [--period <key>] [--now <ISO>]
import { runJobEntry } from './run-job.js'

await runJobEntry(import.meta.filename)
