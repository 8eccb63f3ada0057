import { setTimeout as sleep } from 'node:timers/promises'
import { LateviewError } from '../errors.js'
import type { Db } from './db.js'
import type { Engine } from './engine.js'
import { headSeq } from './events.js'
import { storeError } from './faults.js'
import { openPostgres } from './postgres/open.js'

/** Which store answered a read. */
export type ReadFrom = 'replica' | 'primary'

/** What a read saw: the newest seq of its snapshot (its answer is exact at it) and who served it. */
export interface ReadInfo {
  seq: number
  from: ReadFrom
}

export interface ReadOptions {
  /** The answer must include every event up to this seq (an ingest answer's `lastSeq`). */
  minSeq?: number
  /** Told of the snapshot as soon as its seq is known, before the read runs (so an error answer can say it too). */
  onRead?: (read: ReadInfo) => void
}

/** What a read of one statement answers: its value, exact at `seq`, the newest seq it saw. */
export interface SingleAnswer<T> {
  seq: number
  value: T
}

/** Something that runs reads in one consistent snapshot: an engine, or a router of reads. */
export type Snapshots = Pick<Engine, 'snapshot'>

/** The replica as `/readyz` shows it. */
export interface ReplicaStatus {
  /** `caught-up` when it shows the primary's newest seq, `behind` when not, `unavailable` when it cannot answer (down, or the store not replayed yet). */
  state: 'caught-up' | 'behind' | 'unavailable'
  /** The newest seq the replica shows (null when unavailable). */
  seq: number | null
  /** How many seqs it is behind the primary (null when unavailable). */
  behind: number | null
  error?: string
}

/** After the replica failed to connect, reads skip it for this long before trying it again. */
const RETRY_AFTER_MS = 1000

/**
 * What makes a read turn to the primary: a store fault, or a replica saying a revision is not
 * there. A publication writes no event, so no seq tells whether the replica has replayed it: the
 * primary confirms a "not found" (a revision number a job just answered is always found). Any
 * other LateviewError is the read's own answer.
 */
const TO_PRIMARY = new Set(['LV_ERR_STORE_UNAVAILABLE', 'LV_ERR_STORE_BUSY', 'LV_ERR_STORE_FULL', 'LV_ERR_PERIOD_NOT_FOUND', 'LV_ERR_REVISION_NOT_FOUND'])

/** Opens a streaming replica of a PostgreSQL store for reads: never created, migrated nor written. */
export function openReplica(location: string): Promise<Engine> {
  return openPostgres(location, { standby: true })
}

/**
 * Sends reads to a streaming replica when there is one, and to the primary otherwise. Every read
 * runs in one snapshot and learns the newest seq of that snapshot, the seq its answer is exact
 * at. A read that needs a seq the replica does not show yet (`minSeq`) waits for it up to
 * `waitMs`, then goes to the primary: it is never answered from a replica older than that seq.
 * A replica that fails (unreachable, a query cancelled by recovery, a schema not replayed yet)
 * passes its reads to the primary; one that does not connect is left alone for a second.
 */
export class ReadRouter {
  #skipUntil = 0
  readonly #listeners: Array<(message: string) => void> = []

  constructor(
    readonly primary: Engine,
    readonly replica: Engine | null,
    readonly waitMs: number,
  ) {}

  /** Runs `fn` in a snapshot of the replica (if it can answer) or of the primary. */
  async run<T>(fn: (db: Db, seq: number) => Promise<T>, options: ReadOptions = {}): Promise<T> {
    const minSeq = options.minSeq ?? 0
    if (this.replica !== null && Date.now() >= this.#skipUntil) {
      const served = await this.#fromReplica(this.replica, fn, minSeq, options.onRead)
      if (served !== null) return served.value
    }
    return this.#fromPrimary(fn, minSeq, options.onRead)
  }

  /**
   * A read whose answer usually takes ONE statement that also reads the newest seq (`single`,
   * run outside a transaction: see Engine.single): on PostgreSQL one round trip instead of the
   * four of a snapshot. `single` answers `{ seq, value }`, or null when it cannot answer alone
   * (a cache miss, a period without revision): then `full` runs as `run` runs it. An answer
   * from a store behind `minSeq` is not used either: the replica is waited for, or the primary
   * answers, as for `run`. A replica that fails sends the read to the primary.
   */
  async runSingle<T>(single: (db: Db) => Promise<SingleAnswer<T> | null>, full: (db: Db, seq: number) => Promise<T>, options: ReadOptions = {}): Promise<T> {
    const minSeq = options.minSeq ?? 0
    if (this.replica !== null && Date.now() >= this.#skipUntil) {
      let answer: SingleAnswer<T> | null = null
      try {
        answer = await this.replica.single(single)
      } catch (error) {
        this.#replicaFailed(error)
        return this.#fromPrimary(full, minSeq, options.onRead)
      }
      if (answer !== null && answer.seq >= minSeq) {
        options.onRead?.({ seq: answer.seq, from: 'replica' })
        return answer.value
      }
      return this.run(full, options)
    }
    const answer = await this.primary.single(single)
    if (answer !== null && answer.seq >= minSeq) {
      options.onRead?.({ seq: answer.seq, from: 'primary' })
      return answer.value
    }
    return this.#fromPrimary(full, minSeq, options.onRead)
  }

  /** The read in a snapshot of the primary; LV_ERR_SEQ_NOT_YET when it does not hold `minSeq`. */
  #fromPrimary<T>(fn: (db: Db, seq: number) => Promise<T>, minSeq: number, onRead: ReadOptions['onRead']): Promise<T> {
    return this.primary.snapshot(async (db) => {
      const seq = await headSeq(db)
      if (seq < minSeq) {
        throw new LateviewError('LV_ERR_SEQ_NOT_YET', `minSeq=${minSeq} is above the newest seq of the store (${seq})`, { minSeq, seq })
      }
      onRead?.({ seq, from: 'primary' })
      return fn(db, seq)
    })
  }

  /** The read served by the replica, or null when it is behind `minSeq` past the wait, or failed. */
  async #fromReplica<T>(replica: Engine, fn: (db: Db, seq: number) => Promise<T>, minSeq: number, onRead: ReadOptions['onRead']): Promise<{ value: T } | null> {
    try {
      if (minSeq > 0 && !(await this.#caughtUp(replica, minSeq))) return null
      return await replica.snapshot(async (db) => {
        const seq = await headSeq(db)
        if (seq < minSeq) return null
        onRead?.({ seq, from: 'replica' })
        return { value: await fn(db, seq) }
      })
    } catch (error) {
      this.#replicaFailed(error)
      return null
    }
  }

  /**
   * What a replica's failed read means: rethrown when it is the read's own answer (an unknown
   * view, a bad parameter: the same on either store); otherwise the primary answers, and the
   * listeners hear of a fault (not of a revision missing, which the primary is to confirm).
   */
  #replicaFailed(error: unknown): void {
    const known = storeError(error)
    if (known !== null && !TO_PRIMARY.has(known.code)) throw known
    if (known?.code === 'LV_ERR_PERIOD_NOT_FOUND' || known?.code === 'LV_ERR_REVISION_NOT_FOUND') return
    const skip = known?.code === 'LV_ERR_STORE_UNAVAILABLE'
    if (skip) this.#skipUntil = Date.now() + RETRY_AFTER_MS
    const message = `the read replica failed, the primary answers${skip ? ` (and every read for ${RETRY_AFTER_MS} ms)` : ''}: ${(error as Error).message}`
    for (const listener of this.#listeners) listener(message)
  }

  /**
   * Whether the replica shows `minSeq` within the wait. When the primary does not hold it either
   * there is nothing to wait for: the primary answers that at once.
   */
  async #caughtUp(replica: Engine, minSeq: number): Promise<boolean> {
    const deadline = Date.now() + this.waitMs
    let pause = 5
    for (let first = true; ; first = false) {
      if ((await headSeq(replica.db)) >= minSeq) return true
      // A primary that does not answer cannot tell: keep waiting for the replica.
      if (first && (await headSeq(this.primary.db).catch(() => minSeq)) < minSeq) return false
      const left = deadline - Date.now()
      if (left <= 0) return false
      await sleep(Math.min(pause, left))
      pause = Math.min(pause * 2, 100)
    }
  }

  /** The replica's state against the primary's newest seq; null without a replica. */
  async replicaStatus(): Promise<ReplicaStatus | null> {
    if (this.replica === null) return null
    const primarySeq = await headSeq(this.primary.db)
    try {
      const seq = await headSeq(this.replica.db)
      this.#skipUntil = 0
      return { state: seq >= primarySeq ? 'caught-up' : 'behind', seq, behind: Math.max(0, primarySeq - seq) }
    } catch (error) {
      return { state: 'unavailable', seq: null, behind: null, error: (storeError(error) ?? (error as Error)).message }
    }
  }

  /** Hears of every replica failure that sent a read to the primary. */
  onFault(listener: (message: string) => void): void {
    this.#listeners.push(listener)
  }

  async close(): Promise<void> {
    await this.replica?.close()
  }
}
