import type { FastifyReply } from 'fastify'
import { LateviewError } from '../errors.js'
import type { ReadInfo, ReadOptions } from '../services/lateview.js'

/** The `minSeq` parameter of every read route that a replica may serve. */
export const MIN_SEQ = {
  type: 'string',
  description: "answer only from a store holding this seq (e.g. an ingest answer's lastSeq): a replica behind it is waited for briefly, then the primary answers",
} as const

/** The headers that say which store answered and the seq the answer is exact at. */
export const READ_FROM_HEADER = 'lateview-read-from'
export const SEQ_HEADER = 'lateview-seq'

/** A request's read: its `minSeq` (400 when not a seq), and what the read saw once it ran. */
export interface RouteRead {
  options: ReadOptions
  /** The snapshot the answer came from; set once the read ran. */
  readonly info: ReadInfo
}

/**
 * The read options of a route: `minSeq` checked, and the `Lateview-Read-From` and `Lateview-Seq`
 * headers set on the reply as soon as the read knows them (an error answer carries them too).
 */
export function routeRead(reply: FastifyReply, minSeq: string | undefined): RouteRead {
  let info: ReadInfo | null = null
  const options: ReadOptions = {
    onRead(read) {
      info = read
      reply.header(READ_FROM_HEADER, read.from).header(SEQ_HEADER, String(read.seq))
    },
  }
  if (minSeq !== undefined) options.minSeq = seqOf(minSeq)
  return {
    options,
    get info() {
      if (info === null) throw new Error('the read has not run')
      return info
    },
  }
}

function seqOf(text: string): number {
  const n = Number(text)
  if (!/^(0|[1-9]\d{0,15})$/.test(text) || !Number.isSafeInteger(n)) {
    throw new LateviewError('LV_ERR_QUERY_INVALID', `minSeq=${JSON.stringify(text)} is not a seq (a whole number from 0, as an ingest answer's lastSeq)`)
  }
  return n
}

/** An answer with the seq it is exact at (added last; a Realtime answer has it already). */
export function withSeq<T extends object>(answer: T, read: RouteRead): T & { seq: number } {
  return { ...answer, seq: read.info.seq }
}
