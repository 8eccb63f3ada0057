/**
 * Bounded memory for request bodies. A body held as text, then as parsed events, then as their
 * stored JSON takes a few times its size while its batch is ingested; so the bodies being read
 * and processed at once may total at most BODY_BUDGET bytes, each counted by its content-length
 * (a body of unknown length counts as the largest allowed, BODY_LIMIT). A request over budget waits, its
 * body unread in its socket, until enough of the others are done.
 *
 * This bounds what is alive. What V8 lets garbage grow to is bounded by its heap limit, which
 * `lateview serve` sets (src/cli/lateview.mjs, `--max-old-space-size`): left to its default (a
 * quarter of the machine's memory) it collects late, and eight 60 MiB batches one after another
 * peak at over 1 GB although never more than two are alive.
 */

/** The largest body the server reads (413 LV_ERR_BODY_TOO_LARGE above): a batch of 100,000 events of ordinary size fits. */
export const BODY_LIMIT = 64 * 1024 * 1024
/** Bytes of bodies read and processed at once: two of the largest. */
export const BODY_BUDGET = 2 * BODY_LIMIT

/** A budget of bytes shared by requests: `take` resolves with the function that gives them back (once). */
export class BodyBudget {
  #free: number
  readonly #waiting: Array<{ bytes: number; go: () => void }> = []

  constructor(readonly total = BODY_BUDGET) {
    this.#free = total
  }

  /** Takes the bytes of a body of this content-length (undefined: unknown), waiting first for those queued before. */
  async take(contentLength: number | undefined): Promise<() => void> {
    const bytes = contentLength === undefined || !Number.isFinite(contentLength) ? BODY_LIMIT : contentLength
    const n = Math.min(Math.max(0, bytes), BODY_LIMIT, this.total)
    if (this.#waiting.length === 0 && n <= this.#free) this.#free -= n
    else await new Promise<void>((go) => this.#waiting.push({ bytes: n, go }))
    let given = false
    return () => {
      if (given) return
      given = true
      this.#free += n
      // First come, first served: a large body is not overtaken for ever by small ones.
      while (this.#waiting.length > 0 && (this.#waiting[0] as { bytes: number }).bytes <= this.#free) {
        const next = this.#waiting.shift() as { bytes: number; go: () => void }
        this.#free -= next.bytes
        next.go()
      }
    }
  }

  /** Bytes not taken now. */
  get free(): number {
    return this.#free
  }
}
