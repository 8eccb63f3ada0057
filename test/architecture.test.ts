/**
 * The layering rule: SQL text and Kysely's query builder live in src/store/, behind operations
 * named after what they do, so that what the store is asked is read in one folder and both
 * engines are answered there. Every other .ts file under src/ is parsed (comments and prose never
 * count, only code) and each use is named by file and line.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const root = join(import.meta.dirname, '..')
const STORE = 'src/store/'

/** Packages that reach the database: only types may be imported from them outside the store. */
const DRIVERS = new Set(['kysely', 'pg', 'better-sqlite3'])
/** Methods that build or run a query, or open a transaction, on a Kysely instance. */
const BUILDER_METHODS = new Set([
  'selectFrom',
  'selectNoFrom',
  'insertInto',
  'replaceInto',
  'updateTable',
  'deleteFrom',
  'mergeInto',
  'execute',
  'executeTakeFirst',
  'executeTakeFirstOrThrow',
  'executeQuery',
  'transaction',
])
/** The store's runners of SQL text. */
const TEXT_RUNNERS = new Set(['queryRows', 'exactRows'])

/** A string (or a template's part) that reads as a statement, not as a sentence about one. */
const SQL_TEXT = new RegExp(
  [
    String.raw`select\s+(\*|distinct\b|\d|[a-z_][\w.*]*\s*(\(|,|from\b|as\b)|$)`,
    String.raw`insert\s+(or\s+\w+\s+)?into\s+($|[a-z_]\w*\s*(\(|select\b|values\b|default\b))`,
    String.raw`update\s+[a-z_]\w*\s+set\s+[a-z_]\w*\s*=`,
    String.raw`delete\s+from\s+[a-z_]\w*(\s+where\b|\s*$)`,
    String.raw`(create|alter|drop)\s+(table|index|unique\s+index|schema|view)\b`,
    String.raw`pragma\s+\w`,
    String.raw`(begin(\s+immediate)?|commit|rollback)\s*$`,
    String.raw`with\s+(recursive\s+)?[a-z_]\w*\s+as\s*\(`,
  ]
    .map((p) => String.raw`^\s*(${p})`)
    .join('|'),
  'i',
)

interface Finding {
  file: string
  line: number
  what: string
}

/** `kysely` for `kysely/helpers/postgres`, `@scope/name` for `@scope/name/x`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/')
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/')
}

/** Whether an import or re-export brings in types only (`import type`, or `type` on every name). */
function typeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) return node.isTypeOnly || (node.exportClause !== undefined && ts.isNamedExports(node.exportClause) && node.exportClause.elements.every((e) => e.isTypeOnly))
  const clause = node.importClause
  if (!clause || clause.name) return false
  if (clause.isTypeOnly) return true
  const bindings = clause.namedBindings
  return bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.every((e) => e.isTypeOnly)
}

function isSqlTag(node: ts.Expression): boolean {
  return (ts.isIdentifier(node) && node.text === 'sql') || (ts.isPropertyAccessExpression(node) && isSqlTag(node.expression))
}

/** What a node does that belongs in the store, or null. */
function offence(node: ts.Node): string | null {
  if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
    const from = node.moduleSpecifier.text
    return DRIVERS.has(packageOf(from)) && !typeOnly(node) ? `imports values from ${from}` : null
  }
  if (ts.isTaggedTemplateExpression(node) && isSqlTag(node.tag)) return 'sql`…` template'
  if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'sql') return `sql.${node.name.text}`
  if (ts.isCallExpression(node)) {
    const callee = node.expression
    if (ts.isIdentifier(callee) && TEXT_RUNNERS.has(callee.text)) return `${callee.text}(…)`
    if (ts.isPropertyAccessExpression(callee) && BUILDER_METHODS.has(callee.name.text)) return `.${callee.name.text}(…)`
  }
  const text = ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateLiteralToken(node) ? node.text : null
  if (text !== null && SQL_TEXT.test(text)) return `SQL text ${JSON.stringify(text.length > 50 ? `${text.slice(0, 50)}…` : text)}`
  return null
}

/** Every offence in one file's code. */
function findingsIn(file: string, code: string): Finding[] {
  const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const found: Finding[] = []
  const visit = (node: ts.Node): void => {
    const what = offence(node)
    if (what) found.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, what })
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

/** The .ts files under a folder of the repository, as paths relative to its root. */
function tsFiles(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) =>
      relative(root, join(root, folder, f))
        .split('\\')
        .join('/'),
    )
    .sort()
}

const read = (file: string) => readFileSync(join(root, file), 'utf8')
const shown = (found: Finding[]) => found.map((f) => `  ${f.file}:${f.line}: ${f.what}`).join('\n')

test('no SQL and no query builder outside src/store/', () => {
  const files = tsFiles('src').filter((f) => !f.startsWith(STORE))
  // The walk reaches every layer: an empty scan would pass for the wrong reason.
  for (const layer of ['src/api/', 'src/cli/', 'src/domain/', 'src/services/'])
    assert.ok(
      files.some((f) => f.startsWith(layer)),
      `no file scanned under ${layer}`,
    )
  const found = files.flatMap((f) => findingsIn(f, read(f)))
  assert.ok(found.length === 0, `SQL or query building outside ${STORE}; move it into a named store operation:\n${shown(found)}`)
})

test('the check sees every code form of SQL and query building', () => {
  const code = [
    "import { sql } from 'kysely'", // 1
    "import { type Kysely, CompiledQuery } from 'kysely'", // 2
    "import pg from 'pg'", // 3
    'await sql`select 1`.execute(db)', // 4: tag and .execute
    'const rows = await db.selectFrom("events").selectAll().execute()', // 5: .selectFrom and .execute
    "await db.insertInto('periods').values(row)", // 6
    "await db.updateTable('periods').set(row)", // 7
    "await db.deleteFrom('cells')", // 8
    "await queryRows(db, 'delete from store_probe')", // 9: runner and text
    "const t = sql.raw('x')", // 10
    "const r = sql.ref('seq')", // 11
    'await db.transaction().execute(fn)', // 12
    `const text = \`select \${columns} from events\``, // 13: a template's head
    "const q = 'update periods set dirty_since_seq = ? where view = ?'", // 14
    'const row = await q.executeTakeFirst()', // 15
    "const s = 'select seq, received_at from events order by seq desc limit 1'", // 16
  ].join('\n')
  const lines = [...new Set(findingsIn('sample.ts', code).map((f) => f.line))]
  assert.equal(
    lines,
    Array.from({ length: 16 }, (_, i) => i + 1),
  )
})

test('the check leaves types, prose and store calls alone', () => {
  const code = [
    "import type { Kysely } from 'kysely'",
    "import { type Kysely as K, type Transaction } from 'kysely'",
    "export type { Kysely } from 'kysely'",
    '/** Runs sql`select 1` and .selectFrom("events") in the store, never here. */',
    '// db.transaction() and queryRows(db, "select 1") belong to src/store/',
    "const message = 'Select a view; the sql of a report is the store’s business'",
    "const refused = 'delete from the store is refused'",
    'metrics.pendingSource = () => countPending(deps.lateview.engine.db)',
    'await engine.write((tx) => markDirty(tx.db, view, touched))',
  ].join('\n')
  assert.equal(findingsIn('sample.ts', code), [])
})

test('the check sees the store’s own queries', () => {
  for (const file of ['src/store/sqlite/open.ts', 'src/store/postgres/open.ts', 'src/store/events.ts', 'src/store/revisions.ts', 'src/store/cells.ts', 'src/store/sources.ts', 'src/store/alerts.ts']) {
    assert.ok(findingsIn(file, read(file)).length > 0, `nothing found in ${file}`)
  }
})

/**
 * How a database is told apart: a Kysely adapter, dialect or driver class, a client class, or
 * Kysely's executor. The store's `Db` carries its engine from `openEngine`, so none is needed.
 */
const SNIFF = /\binstanceof\s+(\w+\.)?(\w*(Adapter|Dialect|Driver)|BetterSqlite3|Database|Pool|Client)\b|\.getExecutor\b|\.adapter\b/

/** Lines of `text` (code only: comments are blanked) that find an engine by inspecting an object. */
function sniffingIn(file: string, text: string): Finding[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const found: Finding[] = []
  const visit = (node: ts.Node) => {
    if (ts.isBinaryExpression(node) || ts.isPropertyAccessExpression(node)) {
      const code = node.getText(source)
      if (SNIFF.test(code) && !found.some((f) => f.line === source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1)) {
        found.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, what: code.length > 60 ? `${code.slice(0, 60)}…` : code })
        return
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

test('no code finds the engine by inspecting a database object', () => {
  const found = tsFiles('src').flatMap((f) => sniffingIn(f, read(f)))
  assert.ok(found.length === 0, `the engine is passed with the connection (store/db.ts's Db), not inferred:\n${shown(found)}`)
})

test('the engine check sees the ways of inspecting', () => {
  const code = [
    'if (db.getExecutor().adapter instanceof SqliteAdapter) x()', // 1
    'const pg = kysely.getExecutor()', // 2
    'return raw instanceof BetterSqlite3', // 3
    'if (pool instanceof pg.Pool) y()', // 4
    "if (db.engine === 'sqlite') z()", // fine: passed
    '// db.getExecutor().adapter instanceof SqliteAdapter, in prose', // fine: a comment
  ].join('\n')
  assert.equal(
    sniffingIn('sample.ts', code).map((f) => f.line),
    [1, 2, 3, 4],
  )
})

/** The NATS client packages: only src/broker/ imports them. */
const BROKER_PACKAGES = new Set(['@nats-io/transport-node', '@nats-io/jetstream', '@nats-io/nats-core'])
/** The entry points that wire a broker to the services; nothing else reaches src/broker/ but by type. */
const BROKER_WIRING = ['src/server.ts', 'src/cli/']

/** The module specifiers a file imports values from (type-only imports left out). */
function valueImports(file: string, code: string): Array<{ from: string; line: number }> {
  const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const found: Array<{ from: string; line: number }> = []
  for (const node of source.statements) {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !typeOnly(node)) {
      found.push({ from: node.moduleSpecifier.text, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 })
    }
  }
  return found
}

test('the broker is an adapter: NATS only in src/broker/, wired by the entry points, the services know it by type', () => {
  const files = tsFiles('src')
  assert.ok(files.includes('src/broker/nats.ts'), 'src/broker/nats.ts is scanned')
  const found: Finding[] = []
  for (const file of files) {
    for (const { from, line } of valueImports(file, read(file))) {
      if (BROKER_PACKAGES.has(packageOf(from)) && !file.startsWith('src/broker/')) found.push({ file, line, what: `imports ${from}` })
      if (/(^|\/)broker\//.test(from) && !file.startsWith('src/broker/') && !BROKER_WIRING.some((w) => file.startsWith(w))) found.push({ file, line, what: `imports values from ${from}` })
      if (file.startsWith('src/broker/') && /(^|\/)(api|cli|store)\//.test(from)) found.push({ file, line, what: `the broker imports ${from}` })
    }
  }
  assert.ok(found.length === 0, `the broker's layering:\n${shown(found)}`)
})

test.run()
