#!/usr/bin/env -S node --max-old-space-size=512 --max-semi-space-size=8
// V8's heap is capped at 512 MB: left to its default (a quarter of the machine's memory) it lets
// garbage grow far past what is alive before it collects. Its young generation is held to 8 MB
// semi-spaces (16 by default): a scan of millions of events makes short-lived objects only, and
// a full rebuild's peak RSS fell by about 25 MB for no measurable loss of speed. `npm start`
// passes the same flags (test/cli/cli.test.ts holds them equal).
// The lateview command runs its TypeScript sources directly: no build step after install.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('./main.ts')
process.exitCode = await main(process.argv.slice(2))
