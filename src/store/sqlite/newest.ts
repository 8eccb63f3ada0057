import type BetterSqlite3 from 'better-sqlite3'

/** Code units whose UTF-16 order differs from the UTF-8 byte order SQLite compares text by. */
const ORDER_DIFFERS = /[\ud800-\uffff]/

/**
 * The newest id stored for a source (null: none); `comparable` when it is also the highest in
 * JavaScript's order, so that an id JavaScript puts above it is not stored.
 */
interface NewestId {
  max: string | null
  comparable: boolean
}

/**
 * Moves a source's known newest id up to `id`, the highest in JavaScript's order of the rows this
 * connection just committed for it. The highest of all then stays the highest in JavaScript's
 * order, whatever its code units. An entry not comparable stays as it is: every id is probed.
 */
function raiseNewest(known: Map<string, NewestId>, source: string, id: string): void {
  const t = known.get(source)
  if (t === undefined || (t.max !== null && !t.comparable)) return
  if (t.max === null || id > t.max) known.set(source, { max: id, comparable: true })
}

/**
 * The newest id stored per source, as `toProbe` last read it or this connection's committed
 * inserts moved it (see `raiseNewest`), for ingest's duplicate probe. It holds while no other
 * connection has committed, which PRAGMA data_version tells: its value changes only for commits
 * of other connections. A value too high is harmless (more ids are probed); one too low would let
 * a stored id pass as new, and cannot arise: every insert of this connection goes through
 * `insertEvents`, whose highest ids `raise` takes after the commit.
 */
export class NewestIds {
  #version = -1
  readonly #bySource = new Map<string, NewestId>()

  /**
   * The (source, id) pairs that may be stored, the others being above their source's newest id.
   * `version` is PRAGMA data_version now; `newest` reads a source's newest stored id.
   */
  toProbe(keys: ReadonlyArray<{ source: string; id: string }>, version: number, newest: BetterSqlite3.Statement): string[][] {
    // Most producers number their events increasingly: an id above the newest id stored for
    // its source cannot be stored, and needs no probe. SQLite orders text by UTF-8 bytes, that
    // is by code point; JavaScript by UTF-16 code unit. Where the newest id has no code unit
    // from U+D800 up, an id JavaScript puts above it is above it by code point too: at the
    // first unit that differs, any larger unit (a surrogate, or U+E000 and up) stands for a
    // larger code point than one below U+D800. Elsewhere every id is probed. The newest ids
    // are remembered between batches.
    const top = this.#bySource
    if (version !== this.#version) {
      top.clear()
      this.#version = version
    }
    const pairs: string[][] = []
    for (const k of keys) {
      let t = top.get(k.source)
      if (t === undefined) {
        const max = (newest.get(k.source) as { id: string | null }).id
        top.set(k.source, (t = { max, comparable: max !== null && !ORDER_DIFFERS.test(max) }))
      }
      if (t.max === null || (t.comparable && k.id > t.max)) continue
      pairs.push([k.source, k.id])
    }
    return pairs
  }

  /** Takes a committed transaction's highest id per source (see `raiseNewest`). */
  raise(inserted: Map<string, string>): void {
    for (const [source, id] of inserted) raiseNewest(this.#bySource, source, id)
  }
}
