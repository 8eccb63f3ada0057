import { readFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { problemOf } from '../../src/api/problem.js'
import { ERRORS, type ErrorCode, EVENT_REASONS, type EventReason, LateviewError } from '../../src/errors.js'

/** Keeps docs/errors.md and the registry of src/errors.ts in step. */
const DOC = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
const CODES = Object.keys(ERRORS) as ErrorCode[]
const REASONS = Object.keys(EVENT_REASONS) as EventReason[]

const all = (pattern: RegExp): string[][] => [...DOC.matchAll(pattern)].map((m) => m.slice(1))
const sorted = (values: Iterable<string>): string[] => [...values].sort()

const test = suite('errors')

test('every status is a valid HTTP 4xx or 5xx', () => {
  for (const code of CODES) {
    const { status } = ERRORS[code]
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`)
    assert.ok(STATUS_CODES[status] !== undefined, `${code}: ${status} is not a known HTTP status`)
  }
})

test('codes follow LV_ERR_<AREA>_<PROBLEM> and LV_EVENT_<PROBLEM>, with a title or message', () => {
  for (const code of CODES) {
    assert.match(code, /^LV_ERR_[A-Z]+(_[A-Z]+)*$/)
    assert.ok(ERRORS[code].title.length > 0, code)
  }
  assert.is(new Set(CODES.map((c) => ERRORS[c].title)).size, CODES.length, 'titles tell codes apart')
  for (const reason of REASONS) {
    assert.match(reason, /^LV_EVENT_[A-Z]+(_[A-Z]+)*$/)
    assert.ok(EVENT_REASONS[reason].length > 0, reason)
  }
})

test('docs/errors.md lists every code with its status, in the table and in a section', () => {
  const rows = new Map(all(/^\| `(LV_ERR_[A-Z_]+)` \| (\d{3}) \|/gm).map(([code, status]) => [code as string, Number(status)]))
  const sections = new Map(all(/^### `(LV_ERR_[A-Z_]+)` \((\d{3})\)$/gm).map(([code, status]) => [code as string, Number(status)]))
  for (const code of CODES) {
    assert.is(rows.get(code), ERRORS[code].status, `table row of ${code}`)
    assert.is(sections.get(code), ERRORS[code].status, `section of ${code}`)
  }
  assert.equal(sorted(rows.keys()), sorted(CODES))
  assert.equal(sorted(sections.keys()), sorted(CODES))
})

test('docs/errors.md lists every per-event reason', () => {
  const rows = all(/^\| `(LV_EVENT_[A-Z_]+)` \|/gm).map(([reason]) => reason as string)
  assert.equal(sorted(rows), sorted(REASONS))
})

test('every code docs/errors.md mentions exists in the registry', () => {
  const known = new Set<string>([...CODES, ...REASONS])
  const mentioned = new Set(all(/\b(LV_(?:ERR|EVENT)_[A-Z0-9_]*)/g).map(([code]) => code as string))
  for (const code of mentioned) assert.ok(known.has(code), `docs/errors.md mentions ${code}, which is not in src/errors.ts`)
  assert.ok(mentioned.size >= known.size)
})

test('docs/errors.md describes the problem+json members', () => {
  for (const member of ['type', 'title', 'status', 'detail', 'code', 'instance', 'errors', 'id', 'source', 'index', 'view', 'scope']) {
    assert.ok(DOC.includes(`| \`${member}\``) || DOC.includes(`\`${member}\`,`), `member ${member} is not described`)
  }
  assert.ok(DOC.includes('urn:lateview:problem:<code>'))
  assert.ok(DOC.includes('application/problem+json'))
})

test('a LateviewError becomes an RFC 9457 problem with its code and extension members', () => {
  const error = new LateviewError('LV_ERR_VIEW_NOT_FOUND', 'no view named "x"', { view: 'x' })
  assert.is(error.status, 404)
  assert.equal(problemOf(error, '/v1/views/x'), {
    type: 'urn:lateview:problem:LV_ERR_VIEW_NOT_FOUND',
    title: 'No such view',
    status: 404,
    detail: 'no view named "x"',
    code: 'LV_ERR_VIEW_NOT_FOUND',
    instance: '/v1/views/x',
    view: 'x',
  })
  // Without a detail, the title is the message.
  const bare = new LateviewError('LV_ERR_AUTH_INVALID')
  assert.equal(problemOf(bare), {
    type: 'urn:lateview:problem:LV_ERR_AUTH_INVALID',
    title: 'The bearer token is not known',
    status: 401,
    detail: 'The bearer token is not known',
    code: 'LV_ERR_AUTH_INVALID',
  })
})

test.run()
