#!/usr/bin/env node
// The lateview command runs its TypeScript sources directly: no build step after install.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('./main.ts')
process.exitCode = await main(process.argv.slice(2))
