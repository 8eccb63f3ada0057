#!/usr/bin/env -S node --max-old-space-size=512
// V8's heap is capped at 512 MB: left to its default (a quarter of the machine's memory) it lets
// garbage grow far past what is alive before it collects. `npm start` passes the same flag.
// The lateview command runs its TypeScript sources directly: no build step after install.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('./main.ts')
process.exitCode = await main(process.argv.slice(2))
