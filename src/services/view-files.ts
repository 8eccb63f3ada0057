import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { ViewProgram } from '../domain/aggregate.js'
import { parseViewDefinition, ViewDefinitionError, type ViewDefinition } from '../domain/view.js'

/** The file each loaded definition came from, for errors found later (at start-up, against the store). */
const files = new WeakMap<ViewDefinition, string>()

/** The file a definition was loaded from, or `view <name>` for one built otherwise. */
export function viewFileOf(view: ViewDefinition): string {
  return files.get(view) ?? `view ${view.name}`
}

/**
 * Loads every `*.json` view definition of a folder. Any invalid file stops the load with a
 * ViewDefinitionError naming the file, the field and the problem.
 */
export function loadViewFiles(dir: string): ViewDefinition[] {
  let names: string[]
  try {
    names = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
  } catch (error) {
    throw new ViewDefinitionError(dir, [{ field: '(folder)', problem: `cannot read the views folder: ${(error as Error).message}` }])
  }
  const views: ViewDefinition[] = []
  for (const name of names) {
    const file = join(dir, name)
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'))
    } catch (error) {
      throw new ViewDefinitionError(file, [{ field: '(file)', problem: `not valid JSON: ${(error as Error).message}` }])
    }
    const view = parseViewDefinition(parsed, file)
    if (view.name !== basename(name, '.json')) throw new ViewDefinitionError(file, [{ field: 'name', problem: `must equal the file name (${basename(name, '.json')})` }])
    files.set(view, file)
    views.push(view)
  }
  return views
}

/** Compiles definitions for the hot path. */
export function compileViews(views: ViewDefinition[]): ViewProgram[] {
  return views.map((v) => new ViewProgram(v))
}
