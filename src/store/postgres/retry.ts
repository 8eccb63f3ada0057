import { LateviewError } from '../../errors.js'

/**
 * SQLSTATEs after which PostgreSQL asks for the whole transaction to be run again: a
 * serialization failure (40001) and a deadlock (40P01). Nothing was committed.
 */
const RETRYABLE = new Set(['40001', '40P01'])

/** Attempts of one write transaction before it is given up with LV_ERR_STORE_BUSY. */
export const WRITE_ATTEMPTS = 5

/** The first pause between attempts; it doubles each time, with full jitter (at most 10+20+40+80 ms in all). */
const BASE_PAUSE_MS = 10

/** The SQLSTATE of an error PostgreSQL asks to retry, or null. */
export function retryableState(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && RETRYABLE.has(code) ? code : null
}

export interface RetryOptions {
  attempts?: number
  /** Hears of each transaction run again, with the SQLSTATE that aborted the attempt before. */
  onRetry?: (sqlstate: string) => void
}

/**
 * Runs `op` (a whole transaction: it must begin and end inside) until it does not fail with a
 * retryable SQLSTATE, at most `attempts` times, with short jittered pauses between. After the
 * last attempt the failure is LV_ERR_STORE_BUSY (503): the client retries later. `op` must not
 * keep state from a failed attempt.
 */
export async function retrying<T>(op: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? WRITE_ATTEMPTS
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt)
    } catch (error) {
      const sqlstate = retryableState(error)
      if (sqlstate === null) throw error
      if (attempt >= attempts) {
        const what = sqlstate === '40P01' ? 'a deadlock' : 'a serialization failure'
        throw new LateviewError('LV_ERR_STORE_BUSY', `the store aborted this write ${attempts} times for conflicts with concurrent transactions (last: ${what}, SQLSTATE ${sqlstate}); retry shortly`, {
          attempts,
          sqlstate,
        })
      }
      options.onRetry?.(sqlstate)
      await new Promise((resolve) => setTimeout(resolve, Math.random() * BASE_PAUSE_MS * 2 ** (attempt - 1)))
    }
  }
}
