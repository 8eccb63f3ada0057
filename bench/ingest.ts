/**
 * Figure 1: library ingest (`Lateview.ingest(batch, { imported: true })`, both views maintained)
 * against raw prepared inserts of the same rows, for time-ordered ids and for random UUIDv4
 * ids. Within a comparison the streams advance together in blocks of batches, so that the
 * machine's noise falls on lateview and its baseline alike.
 */
import type { FixtureEvent } from '../fixtures/generate.js'
import type { Lateview } from '../src/services/lateview.js'
import { compare, openLateview, type Comparison, type Log } from './common.js'
import { batches, fixtureStream, RowConverter, UuidIds } from './data.js'
import type { Sizes } from './options.js'
import { quantile } from './stats.js'
import type { Backend, RawSink } from './stores.js'

const BLOCK = 5

/**
 * One side of a comparison. Each batch is prepared for it right before its timed call, outside
 * the timing (parsed JSON for lateview, rows for raw inserts), as a server hands over what it has
 * just parsed: input prepared long before is cold in the CPU's caches for the side that reads it
 * more.
 */
interface Stream {
  name: string
  ms: number
  events: number
  batchMs: number[]
  run(events: FixtureEvent[]): Promise<void>
}

export interface IngestVariant {
  library: { eventsPerSec: number; ms: number; batchP50Ms: number; batchP99Ms: number; batchMaxMs: number; alerts: number }
  /** Informative: the median batch of each side (the target is on the means, eventsPerSec). */
  raw: { eventsPerSec: number; ms: number; batchP50Ms: number; batchP99Ms: number }
  /** Informative: raw inserts into lateview's physical layout (its secondary indexes, 16 KiB pages). */
  rawAllIndexes?: { eventsPerSec: number; ms: number }
  /** Informative, PostgreSQL: the same rows sent with `COPY … FROM STDIN`, the physical limit. */
  rawCopy?: { eventsPerSec: number; ms: number }
  ratio: Comparison
  /** The raw table and lateview's events table hold exactly the same rows afterwards. */
  rowsIdentical: boolean
}

export interface IngestFigures {
  /** Events of the time-ordered comparison. */
  events: number
  /** Events of the UUIDv4 comparison (fewer than `events` only when the budget cut it short). */
  uuidEvents: number
  batches: number
  /** Whether the run stopped early at --budget (both sides measured on the same prefix). */
  capped: boolean
  timeIds: IngestVariant
  uuidIds: IngestVariant
}

function libraryStream(name: string, lateview: Lateview): Stream {
  const s: Stream = {
    name,
    ms: 0,
    events: 0,
    batchMs: [],
    async run(batch) {
      const events = asParsedJson(batch)
      const started = performance.now()
      const result = await lateview.ingest(events, { imported: true })
      const ms = performance.now() - started
      s.ms += ms
      s.batchMs.push(ms)
      s.events += events.length
      if (result.accepted + result.duplicates !== events.length) throw new Error(`${name}: ${events.length} sent, ${result.accepted} accepted, ${result.duplicates} duplicates`)
    },
  }
  return s
}

function rawStream(name: string, sink: RawSink): Stream {
  const convert = new RowConverter()
  const s: Stream = {
    name,
    ms: 0,
    events: 0,
    batchMs: [],
    async run(events) {
      const rows = events.map((e) => convert.row(e))
      const started = performance.now()
      await sink.insert(rows)
      const ms = performance.now() - started
      s.ms += ms
      s.batchMs.push(ms)
      s.events += rows.length
    },
  }
  return s
}

const asParsedJson = (events: FixtureEvent[]): FixtureEvent[] => JSON.parse(JSON.stringify(events)) as FixtureEvent[]

const perSec = (s: Stream) => ({ eventsPerSec: s.events / (s.ms / 1000), ms: s.ms })

/**
 * Runs one comparison (lateview and its baselines) over the fixture stream, the streams
 * interleaved in blocks of BLOCK batches. Returns the events sent and whether the budget cut
 * the run short.
 */
async function runComparison(
  streams: Stream[],
  sizes: Sizes,
  budgetMs: number,
  log: Log,
  label: string,
  mapEvents: (events: FixtureEvent[]) => FixtureEvent[],
): Promise<{ sent: number; capped: boolean }> {
  const [library, raw] = streams as [Stream, Stream]
  const days = Math.ceil(sizes.ingestEvents / sizes.perDay) + 3
  let block: FixtureEvent[][] = []
  let sent = 0
  let lastLog = performance.now()
  const flush = async () => {
    // Each stream runs the whole block, one after the other: lateview, then its baselines.
    for (const stream of streams) for (const b of block) await stream.run(b)
    sent += block.reduce((n, b) => n + b.length, 0)
    block = []
    if (performance.now() - lastLog > 15_000) {
      lastLog = performance.now()
      log(`  ingest, ${label}: ${sent} events, lateview ${Math.round(library.events / (library.ms / 1000))}/s, raw ${Math.round(raw.events / (raw.ms / 1000))}/s`)
    }
  }
  for (const events of batches(fixtureStream({ perDay: sizes.perDay, days, limit: sizes.ingestEvents }))) {
    block.push(mapEvents(events))
    if (block.length === BLOCK) {
      await flush()
      if (library.ms > budgetMs) return { sent, capped: true }
    }
  }
  if (block.length > 0) await flush()
  return { sent, capped: false }
}

export async function measureIngest(backend: Backend, sizes: Sizes, budgetMs: number, log: Log): Promise<IngestFigures> {
  const libTime = await openLateview(backend.location('ingest_time'))
  const libUuid = await openLateview(backend.location('ingest_uuid'))
  const sinks: RawSink[] = []
  try {
    const rawTime = await backend.rawSink('raw_time')
    sinks.push(rawTime)
    const rawAll = await backend.rawSink('raw_time_all', { allIndexes: true })
    sinks.push(rawAll)
    const rawUuid = await backend.rawSink('raw_uuid')
    sinks.push(rawUuid)
    const copySink = backend.engine === 'postgres' ? await backend.rawSink('raw_time_copy', { copy: true }) : null
    if (copySink) sinks.push(copySink)
    const time = {
      library: libraryStream('library', libTime),
      raw: rawStream('raw', rawTime),
      all: rawStream('raw+indexes', rawAll),
      ...(copySink ? { copy: rawStream('copy', copySink) } : {}),
    }
    const uuid = { library: libraryStream('library', libUuid), raw: rawStream('raw', rawUuid) }

    // The two id variants run one after the other, not interleaved: the UUID stores' random
    // writes (and their writeback) would otherwise fall on whichever stream runs next.
    const timeRun = await runComparison([time.library, time.raw, time.all, ...(time.copy ? [time.copy] : [])], sizes, budgetMs, log, 'time-ordered ids', (events) => events)
    const uuids = new UuidIds()
    const uuidRun = await runComparison([uuid.library, uuid.raw], sizes, budgetMs, log, 'UUIDv4 ids', (events) => events.map((e) => uuids.map(e)))
    for (const sink of sinks.splice(0)) await sink.close()

    const alerts = async (lateview: Lateview) =>
      Number(
        (
          await lateview.engine.db.kysely
            .selectFrom('alerts')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      )
    const variant = async (v: { library: Stream; raw: Stream; all?: Stream; copy?: Stream }, lateview: Lateview, store: string, rawName: string): Promise<IngestVariant> => {
      const same = await backend.compareRows(backend.location(store), rawName)
      const lib = perSec(v.library)
      const raw = perSec(v.raw)
      return {
        library: {
          ...lib,
          batchP50Ms: quantile(v.library.batchMs, 0.5),
          batchP99Ms: quantile(v.library.batchMs, 0.99),
          batchMaxMs: Math.max(...v.library.batchMs),
          alerts: await alerts(lateview),
        },
        raw: { ...raw, batchP50Ms: quantile(v.raw.batchMs, 0.5), batchP99Ms: quantile(v.raw.batchMs, 0.99) },
        ...(v.all ? { rawAllIndexes: perSec(v.all) } : {}),
        ...(v.copy ? { rawCopy: perSec(v.copy) } : {}),
        ratio: compare(lib.eventsPerSec, raw.eventsPerSec, 0.6, true),
        rowsIdentical: same.onlyInLateview === 0 && same.onlyInRaw === 0,
      }
    }
    return {
      events: timeRun.sent,
      uuidEvents: uuidRun.sent,
      batches: time.library.batchMs.length,
      capped: timeRun.capped || uuidRun.capped,
      timeIds: await variant(time, libTime, 'ingest_time', 'raw_time'),
      uuidIds: await variant(uuid, libUuid, 'ingest_uuid', 'raw_uuid'),
    }
  } finally {
    for (const sink of sinks) await sink.close()
    await libTime.close()
    await libUuid.close()
  }
}
