/**
 * The JSON schemas of the HTTP API: every answer, every problem and the request bodies, shared as
 * `#/components/schemas/<$id>` of the OpenAPI document (GET /docs/json) and validated against in
 * the tests. Request parameters are validated by fastify with the schemas written beside each
 * route; what a client may send beyond them is documented here.
 *
 * A figure is an exact decimal numeral: lateview writes it without an exponent and with every
 * digit it holds, which may be more than a double keeps (see README, "Exact figures"). Its schema
 * says `number`; a client that needs every digit parses the JSON losslessly.
 */
import type { FastifyInstance, FastifySchema } from 'fastify'
import { ALERT_KINDS } from '../domain/alerts.js'
import { RELEASE_KINDS } from '../domain/analysis.js'
import { GRANULARITIES } from '../domain/time.js'
import { SCOPES } from '../config.js'
import { ERRORS, type ErrorCode, EVENT_REASONS } from '../errors.js'
import { JOB_NAMES } from '../services/jobs.js'

export type JsonSchema = Record<string, unknown>

declare module 'fastify' {
  interface FastifySchema {
    /**
     * Parts of the request the OpenAPI document shows in place of the route's own (`body`,
     * `headers`, `params`, `querystring`) and that fastify does not validate: what the handler
     * checks itself, with its own error codes (ingest's per-event problems, a job's 404).
     */
    documented?: Pick<FastifySchema, 'body' | 'headers' | 'params' | 'querystring'>
  }
}

/** A reference to a shared schema (its `$id`). */
export const ref = (id: string): JsonSchema => ({ $ref: `${id}#` })

const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] })
const text = (description?: string): JsonSchema => ({ type: 'string', ...(description ? { description } : {}) })
const integer = (description?: string): JsonSchema => ({ type: 'integer', ...(description ? { description } : {}) })
const instant = (description?: string): JsonSchema => ({ type: 'string', format: 'date-time', ...(description ? { description } : {}) })
const list = (items: JsonSchema, description?: string): JsonSchema => ({ type: 'array', items, ...(description ? { description } : {}) })
/** An object of exactly these members (every one present unless listed in `optional`). */
function closed(properties: Record<string, JsonSchema>, optional: readonly string[] = [], extra: JsonSchema = {}): JsonSchema {
  return { type: 'object', ...extra, required: Object.keys(properties).filter((k) => !optional.includes(k)), properties, additionalProperties: false }
}

const SEQ = integer('a position in the store: events are numbered 1, 2, 3… in the order they were stored')
const FIGURE_OR_NULL = { type: ['number', 'null'], description: 'an exact decimal numeral; null when there is no value' } as const
const SHARE = { type: ['number', 'null'], description: 'a ratio (6 significant digits); null when it has no value' } as const
const DURATION = text('an ISO 8601 duration, e.g. PT6H')
const PERIOD = text('a period key of the view: 2026-11-02T14 (hour), 2026-11-02 (day), 2026-W45 (week), 2026-11 (month), in the view’s time zone')

// ---------------------------------------------------------------------------------------------
// Problems

const EventProblem = closed(
  {
    index: integer('the position of the item in the batch, from 0'),
    id: text('the id of the item, when it has one'),
    line: integer('the NDJSON line, from 1'),
    code: { type: 'string', enum: Object.keys(EVENT_REASONS), description: 'why (docs/errors.md, "Event reasons")' },
    field: text('the field at fault, e.g. occurredAt or data.amount'),
    message: text(),
  },
  ['id', 'line', 'field'],
  { description: 'What is wrong with one item of a refused batch' },
)

const BrokerStatus = closed({ connected: { type: 'boolean' }, stream: text(), durable: text() }, [], { description: 'The NATS JetStream consumer of the process' })

const Problem = closed(
  {
    type: text('urn:lateview:problem:<code>'),
    title: text('the title of the code'),
    status: integer('the HTTP status'),
    detail: text('what happened, for a person'),
    code: { type: 'string', enum: Object.keys(ERRORS), description: 'the stable code: check this, never the text (docs/errors.md)' },
    instance: text('the request path'),
    errors: list(ref('EventProblem'), 'LV_ERR_EVENTS_INVALID: every problem of the batch, in item order'),
    allow: list(text(), 'LV_ERR_METHOD_NOT_ALLOWED: the methods the path takes (also in the Allow header)'),
    scope: { type: 'string', enum: [...SCOPES], description: 'LV_ERR_AUTH_FORBIDDEN: the scope the request needs' },
    view: text('the view concerned'),
    period: text('the period concerned'),
    measure: text('LV_ERR_MEASURE_OVERFLOW: the measure'),
    dims: ref('Dims'),
    source: text('LV_ERR_EVENT_CONFLICT: the source of the event'),
    id: text('LV_ERR_EVENT_CONFLICT: the id of the event'),
    index: integer('LV_ERR_EVENT_CONFLICT: the position of the event in the batch'),
    minSeq: integer('LV_ERR_SEQ_NOT_YET: the seq asked for'),
    seq: integer('LV_ERR_SEQ_NOT_YET: the newest seq of the store'),
    broker: ref('BrokerStatus'),
  },
  ['instance', 'errors', 'allow', 'scope', 'view', 'period', 'measure', 'dims', 'source', 'id', 'index', 'minSeq', 'seq', 'broker'],
  { description: 'An RFC 9457 problem document with lateview’s stable code; the members after instance appear with the codes that name them' },
)

// ---------------------------------------------------------------------------------------------
// Events

const DATA = { type: 'object', description: 'the event’s own fields: measures and dimensions are read from its top-level keys', additionalProperties: true } as const

const EventInput = closed(
  {
    id: { type: 'string', minLength: 1, maxLength: 200, description: 'unique per source; sending it again is a duplicate, harmless' },
    source: { type: 'string', minLength: 1, maxLength: 200, description: 'the producer, e.g. store-042' },
    type: { type: 'string', minLength: 1, maxLength: 100, description: 'selects the views the event feeds' },
    occurredAt: instant('when it happened: an ISO 8601 instant with an offset or Z'),
    data: DATA,
    retracts: { type: ['string', 'null'], description: 'the id of an event of the same source this one voids' },
    receivedAt: instant('only with ?import=true (admin): when it was received'),
  },
  ['data', 'retracts', 'receivedAt'],
  { description: 'An event as a producer sends it' },
)

const ATTRIBUTE_VALUE = { type: ['string', 'integer', 'boolean'] } as const

const CloudEvent = {
  type: 'object',
  description:
    'A CloudEvents 1.0 event in the JSON format: time → occurredAt; subject, dataschema, datacontenttype and extension attributes (names of 1 to 20 lower-case letters and digits, values a string, a boolean or a 32-bit integer) are kept with the event as its attributes',
  required: ['specversion', 'id', 'source', 'type', 'time'],
  properties: {
    specversion: { type: 'string', enum: ['1.0'] },
    id: { type: 'string', minLength: 1, maxLength: 200 },
    source: { type: 'string', minLength: 1, maxLength: 200 },
    type: { type: 'string', minLength: 1, maxLength: 100 },
    time: instant('occurredAt'),
    data: DATA,
    data_base64: text('the data as base64 of its JSON, instead of data'),
    datacontenttype: text('a JSON media type'),
    dataschema: text(),
    subject: text(),
    retracts: text('lateview’s extension: the id of an event of the same source this one voids'),
    receivedat: instant('lateview’s extension, only with ?import=true (admin): receivedAt'),
  },
  // Extension attributes are strings, booleans or 32-bit integers; said so rather than typed, as
  // a type for the other members would make the known ones untypable in most languages.
  additionalProperties: true,
}

const EventAttributes = {
  type: 'object',
  description: 'The CloudEvents attributes kept with an event (subject, dataschema, datacontenttype, extensions), values as sent',
  additionalProperties: ATTRIBUTE_VALUE,
}

const StoredEvent = closed(
  {
    seq: SEQ,
    id: text(),
    source: text(),
    type: text(),
    occurredAt: instant(),
    receivedAt: instant(),
    lagMs: integer('receivedAt − occurredAt, in ms'),
    data: DATA,
    attributes: ref('EventAttributes'),
    retracts: text('the id of the event this one voids'),
    retractedBy: closed({ id: text(), seq: SEQ, receivedAt: instant() }, [], { description: 'the retraction that voids this event' }),
  },
  ['attributes', 'retracts', 'retractedBy'],
  { description: 'One stored event; attributes only for a CloudEvent that had some' },
)

const Alert = closed(
  {
    id: text(),
    type: { type: 'string', enum: [...ALERT_KINDS] },
    status: { type: 'string', enum: ['firing', 'resolved'] },
    createdAt: instant(),
    resolvedAt: { type: ['string', 'null'], format: 'date-time' },
    view: { type: ['string', 'null'] },
    period: { type: ['string', 'null'] },
    source: { type: ['string', 'null'] },
    data: { type: 'object', description: 'what the alert is about, by type (README, "Alerts and webhooks"); figures are exact', additionalProperties: true },
  },
  [],
  { description: 'An alert, as the API and webhooks show it' },
)

const IngestAnswer = closed(
  {
    accepted: integer('events stored'),
    duplicates: integer('events already stored with the same body'),
    firstSeq: { type: ['integer', 'null'], description: 'the seq of the first event stored; null when none was' },
    lastSeq: { type: ['integer', 'null'], description: 'the seq of the last event stored (give it as minSeq to read your own writes)' },
    receivedAt: instant(),
    alerts: list(ref('Alert'), 'the alerts the batch raised'),
  },
  [],
  { description: 'What an atomic batch came to' },
)

// ---------------------------------------------------------------------------------------------
// Views

const Dims = {
  type: 'object',
  description: 'the value of each dimension',
  additionalProperties: { type: ['string', 'number', 'boolean', 'null'] },
}
const Measures = { type: 'object', description: 'the value of each measure, an exact decimal numeral (null: no value, e.g. the max of nothing)', additionalProperties: FIGURE_OR_NULL }
const Totals = closed({ measures: ref('Measures'), eventCount: integer() }, [], { description: 'the measures over every row, and the events counted' })

const schedule = (description: string) => closed({ at: text('HH:MM, local'), afterDays: integer() }, [], { description })
const ViewProperties = {
  name: text(),
  version: integer(),
  description: text(),
  eventTypes: list(text()),
  timezone: text('an IANA time zone'),
  granularity: { type: 'string', enum: [...GRANULARITIES] },
  dimensions: list(text()),
  measures: {
    type: 'object',
    description: 'by name: { "sum" | "min" | "max" | "avg": field, "decimals": n } or { "count": true }',
    additionalProperties: {
      type: 'object',
      properties: { sum: text(), min: text(), max: text(), avg: text(), count: { type: 'boolean', enum: [true] }, decimals: { type: 'integer', minimum: 0, maximum: 9 } },
      minProperties: 1,
      additionalProperties: false,
    },
  },
  sign: { type: 'object', description: 'a multiplier per event type', additionalProperties: { type: 'integer' } },
  flash: schedule('the flash release'),
  consolidate: schedule('the consolidated release'),
  rebuild: closed(
    {
      every: text('a cron expression'),
      windowDays: integer(),
      minChange: closed({ relative: { type: 'number' }, absolute: { type: 'number' } }, ['relative', 'absolute']),
    },
    ['minChange'],
  ),
  close: closed({ at: text(), afterDays: integer(), lateAfterClose: { type: 'string', enum: ['restate', 'hold'] } }),
  sla: closed({ maxDelay: { type: ['string', 'null'] }, bySource: { type: 'object', description: 'source glob → ISO 8601 duration', additionalProperties: { type: 'string' } } }),
  expectedSources: nullable(closed({ sources: list(text()), by: DURATION })),
}
const ViewDefinition = closed(ViewProperties, [], { description: 'A view definition as in its file, defaults written out (README, "View definitions")' })

const ViewStatus = closed(
  {
    seq: integer('the newest seq of the store'),
    periods: closed({ open: list(text()), provisional: list(text()), final: list(text()) }),
    dirty: list(
      closed({
        period: text(),
        status: { type: 'string', enum: ['provisional', 'final'] },
        latestRevision: integer(),
        dirtySinceSeq: { type: ['integer', 'null'], description: 'the first seq that changed the period after its latest revision' },
        pending: closed(
          {
            belowMinChange: { type: 'boolean', description: "true when the rebuilder holds this back: the period is provisional and no measure moved past the view's rebuild.minChange" },
            eventCount: integer('events counted now minus events counted in the latest revision (a retraction takes one off)'),
            measures: { ...ref('Measures'), description: "per measure, its total over all rows (the report's totals.measures) now minus in the latest revision; null when one side has no value" },
          },
          [],
          { description: "what the period's live figures hold beyond its latest revision, exact" },
        ),
      }),
      'Periods changed since their latest revision (late events not yet published, held after close, or below rebuild.minChange)',
    ),
  },
  [],
  { description: 'Where a view stands' },
)

const ViewAnswer = closed({ ...ViewProperties, status: ref('ViewStatus') }, [], { description: 'A view definition (as in its file, defaults written out) and the status of its periods' })

const ViewVersions = closed({
  view: text(),
  current: integer('the version this process runs'),
  versions: list(
    closed({
      version: integer(),
      hash: text('SHA-256 (hex) of the canonical JSON of the definition'),
      effectiveFrom: instant('when a lateview process first started with this version'),
      current: { type: 'boolean' },
      definition: ref('ViewDefinition'),
    }),
    'oldest first',
  ),
})

const RealtimeAnswer = closed(
  {
    view: text(),
    seq: integer('the seq the figures are exact at'),
    cells: list(closed({ period: text(), dims: ref('Dims'), measures: ref('Measures'), eventCount: integer() })),
    totals: ref('Totals'),
  },
  [],
  { description: 'Live figures, exact at seq; totals are over the cells returned' },
)

// ---------------------------------------------------------------------------------------------
// Reports

const REVISION_KIND = { type: 'string', enum: ['flash', 'consolidated', 'revision', 'restatement', 'manual', 'final'] } as const
const TRIGGER = { type: 'string', enum: ['cron', 'catch-up', 'late-arrival', 'manual', 'restatement', 'definition'] } as const
const PERIOD_STATUS = { type: 'string', enum: ['open', 'provisional', 'final'] } as const

const RevisionFields = {
  revision: integer(),
  kind: REVISION_KIND,
  cutoffSeq: integer('the last seq the revision counts'),
  cutoffReceivedAt: { type: ['string', 'null'], format: 'date-time', description: 'when the event at cutoffSeq was received' },
  computedAt: instant(),
  trigger: TRIGGER,
  completeness: SHARE,
  eventCount: integer(),
  lateEventCount: integer('events received after the period ended'),
  hash: text('SHA-256 (hex) of the canonical rows'),
  viewVersion: integer('the definition version it was computed under'),
}

const Report = closed(
  {
    view: text(),
    period: text(),
    status: PERIOD_STATUS,
    ...RevisionFields,
    revision: { type: ['integer', 'null'], description: 'null for what was known as of an instant' },
    kind: { type: 'string', enum: [...REVISION_KIND.enum, 'as-of'] },
    trigger: { type: ['string', 'null'], enum: [...TRIGGER.enum, null] },
    rows: list(closed({ dims: ref('Dims'), measures: ref('Measures'), eventCount: integer() })),
    totals: ref('Totals'),
  },
  [],
  { description: 'A revision of a period (or what was known as of an instant): rows and totals, exact' },
)

const Revisions = closed({
  view: text(),
  period: text(),
  status: PERIOD_STATUS,
  revisions: list(closed({ ...RevisionFields, totals: ref('Totals') }), 'oldest first'),
  seq: integer('the seq the answer is exact at'),
})

const DiffSide = closed({ label: text(), revision: { type: ['integer', 'null'] }, cutoffSeq: integer(), viewVersion: integer() })

const Diff = closed(
  {
    view: text(),
    period: text(),
    from: ref('DiffSide'),
    to: ref('DiffSide'),
    definition: nullable(
      closed({ from: integer(), to: integer(), measuresAdded: list(text()), measuresRemoved: list(text()), dimensionsChanged: { type: 'boolean' }, note: text() }, [], {
        description: 'what changed in the rules between the two sides',
      }),
    ),
    changes: list(
      closed(
        {
          dims: ref('Dims'),
          before: nullable(ref('Measures')),
          after: nullable(ref('Measures')),
          delta: ref('Measures'),
          events: list(
            closed(
              {
                id: text(),
                source: text(),
                seq: SEQ,
                receivedAt: instant(),
                occurredAt: instant(),
                retracts: text(),
                contribution: ref('Measures'),
              },
              ['retracts'],
            ),
            'the events that explain the change',
          ),
          definitionEffect: ref('Measures'),
        },
        ['definitionEffect'],
      ),
    ),
    totals: closed({ before: ref('Measures'), after: ref('Measures'), delta: ref('Measures') }),
  },
  [],
  { description: 'The cells that changed between two sides, the events behind each change, and both sides’ totals' },
)

const Exceptions = closed({
  view: text(),
  period: text(),
  status: PERIOD_STATUS,
  policy: { type: 'string', enum: ['restate', 'hold'] },
  events: list(
    closed({ id: text(), source: text(), type: text(), seq: SEQ, occurredAt: instant(), receivedAt: instant(), data: DATA, retracts: text() }, ['retracts']),
    'events received after the close and not yet restated',
  ),
  seq: integer('the seq the answer is exact at'),
})

// ---------------------------------------------------------------------------------------------
// Revision analysis

const Accuracy = closed({
  view: text(),
  measure: text(),
  against: { type: 'string', enum: ['final', 'latest'] },
  from: { type: ['string', 'null'] },
  to: { type: ['string', 'null'] },
  releases: list(
    closed({
      kind: { type: 'string', enum: [...RELEASE_KINDS] },
      n: integer('periods with this release and a benchmark'),
      meanRevision: { type: 'number' },
      meanAbsRevision: { type: 'number' },
      relativeMeanAbsRevision: SHARE,
      minRevision: { type: 'number' },
      maxRevision: { type: 'number' },
      stdRevision: { type: 'number' },
      accuracy: SHARE,
      withinOnePercent: { type: 'number' },
    }),
  ),
  periods: list(
    closed({
      period: text(),
      benchmark: FIGURE_OR_NULL,
      releases: { type: 'object', description: 'by release kind', additionalProperties: closed({ revision: FIGURE_OR_NULL, value: FIGURE_OR_NULL, publishedAt: instant() }) },
    }),
  ),
  excluded: list(closed({ period: text(), kind: text(), reason: text() })),
  seq: integer('the seq the answer is exact at'),
})

const Vintages = closed({
  view: text(),
  measure: text(),
  lags: list(DURATION),
  rows: list(
    closed({
      period: text(),
      benchmark: FIGURE_OR_NULL,
      values: list(closed({ lag: DURATION, knownAt: instant(), value: FIGURE_OR_NULL, share: SHARE })),
    }),
  ),
  seq: integer('the seq the answer is exact at'),
})

const Spread = closed({ min: SHARE, p10: SHARE, p50: SHARE, p90: SHARE }, [], { description: 'the smallest share and the nearest-rank 10th, 50th and 90th percentiles over periods' })

const Completeness = closed({
  points: list(closed({ lag: DURATION, value: ref('Spread'), events: ref('Spread') })),
  sources: list(closed({ source: text(), count: integer(), lagP50: DURATION, lagP90: DURATION, lagP99: DURATION, lagMax: DURATION })),
  seq: integer('the seq the answer is exact at'),
})

const CloseAdvice = closed({
  candidates: list(
    closed({
      afterDays: integer(),
      at: text('e.g. D+3 03:30'),
      n: integer('the periods judged'),
      periodsRestated: integer(),
      shareRestated: SHARE,
      meanAbsRestatement: FIGURE_OR_NULL,
      maxAbsRestatement: FIGURE_OR_NULL,
      meanAbsRestatementRelative: SHARE,
      maxAbsRestatementRelative: SHARE,
      valueKnown: SHARE,
      incomplete: { type: 'boolean' },
    }),
  ),
  recommended: nullable(closed({ afterDays: integer(), at: text() })),
  sla: list(closed({ source: text(), suggested: DURATION })),
  seq: integer('the seq the answer is exact at'),
})

// ---------------------------------------------------------------------------------------------
// Alerts, sources, webhooks

const Alerts = closed({ alerts: list(ref('Alert'), 'newest first') })

const Sources = closed({
  window: DURATION,
  now: instant(),
  from: instant('the first whole hour read'),
  to: instant('the end of the last whole hour read'),
  sources: list(
    closed({
      source: text(),
      count: integer(),
      p50LagMs: { type: 'number' },
      p99LagMs: { type: 'number' },
      maxLagMs: { type: 'number' },
      p50Lag: DURATION,
      p99Lag: DURATION,
      maxLag: DURATION,
      lastReceivedAt: instant(),
    }),
  ),
})

const WebhookFields = {
  id: text(),
  url: text(),
  kinds: { type: ['array', 'null'], items: { type: 'string', enum: [...ALERT_KINDS] }, description: 'null: every kind' },
  createdAt: instant(),
  status: { type: 'string', enum: ['active', 'disabled'] },
  disabledAt: { type: ['string', 'null'], format: 'date-time' },
  disabledReason: { type: ['string', 'null'] },
}
const Webhook = closed(WebhookFields, [], { description: 'A subscription (never its secret)' })
const CreatedWebhook = closed({ ...WebhookFields, secret: text('the signing secret (whsec_…), shown only now') })
const Webhooks = closed({ webhooks: list(ref('Webhook'), 'oldest first') })
const RotatedSecret = closed({
  id: text(),
  secret: text('the new signing secret, shown only now'),
  rotatedAt: instant(),
  previousSecretExpiresAt: instant('when the older secrets stop signing'),
})
const Delivery = closed({
  id: text(),
  webhookId: text(),
  alertId: text(),
  event: { type: 'string', enum: ['raised', 'resolved'] },
  status: { type: 'string', enum: ['pending', 'delivered', 'dead', 'cancelled'] },
  attempts: integer(),
  nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
  createdAt: instant(),
  deliveredAt: { type: ['string', 'null'], format: 'date-time' },
  lastStatusCode: { type: ['integer', 'null'] },
  lastError: { type: ['string', 'null'] },
  log: list(closed({ attempt: integer(), at: instant(), statusCode: { type: ['integer', 'null'] }, error: { type: ['string', 'null'] }, durationMs: { type: 'number' } })),
})
const Deliveries = closed({ deliveries: list(ref('Delivery'), 'newest first') })
const QueuedDelivery = closed({ id: text(), status: { type: 'string', enum: ['pending'] } })

// ---------------------------------------------------------------------------------------------
// Jobs and operations

const JobRun = closed({
  id: integer(),
  job: { type: 'string', enum: [...JOB_NAMES, 'restate'] },
  view: text(),
  period: text(),
  now: instant('the instant the job ran at'),
  trigger: TRIGGER,
  outcome: { type: 'string', enum: ['published', 'unchanged', 'below-threshold', 'skipped', 'failed'] },
  revision: { type: ['integer', 'null'], description: 'the revision published' },
  detail: { type: ['string', 'null'] },
  startedAt: instant(),
  durationMs: { type: 'number' },
})
const JobAnswer = closed({ job: { type: 'string', enum: [...JOB_NAMES] }, now: instant(), runs: list(ref('JobRun')) })
const JobRuns = closed({ runs: list(ref('JobRun'), 'newest first') })

const Health = closed({ status: { type: 'string', enum: ['ok'] } })
const Readiness = closed(
  {
    status: { type: 'string', enum: ['ready'] },
    engine: { type: 'string', enum: ['sqlite', 'postgres'] },
    views: integer(),
    replica: closed(
      {
        state: { type: 'string', enum: ['caught-up', 'behind', 'unavailable'] },
        seq: { type: ['integer', 'null'] },
        behind: { type: ['integer', 'null'] },
        error: text(),
      },
      ['error'],
      { description: 'the read replica, when there is one (it does not decide readiness)' },
    ),
    broker: ref('BrokerStatus'),
  },
  ['replica', 'broker'],
)

/** The shared schemas, by `$id`: each is `#/components/schemas/<$id>` in the OpenAPI document. */
export const SHARED_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  Problem,
  EventProblem,
  BrokerStatus,
  EventInput,
  CloudEvent,
  EventAttributes,
  StoredEvent,
  IngestAnswer,
  Alert,
  Dims,
  Measures,
  Totals,
  ViewDefinition,
  ViewStatus,
  ViewAnswer,
  ViewVersions,
  RealtimeAnswer,
  Report,
  Revisions,
  DiffSide,
  Diff,
  Exceptions,
  Accuracy,
  Vintages,
  Spread,
  Completeness,
  CloseAdvice,
  Alerts,
  Sources,
  Webhook,
  CreatedWebhook,
  Webhooks,
  RotatedSecret,
  Delivery,
  Deliveries,
  QueuedDelivery,
  JobRun,
  JobAnswer,
  JobRuns,
  Health,
  Readiness,
}

/** Adds the shared schemas to an app, before its routes. */
export function addSharedSchemas(app: FastifyInstance): void {
  for (const [id, schema] of Object.entries(SHARED_SCHEMAS)) app.addSchema({ $id: id, ...schema })
}

// ---------------------------------------------------------------------------------------------
// Responses

export const JSON_TYPE = 'application/json'
export const PROBLEM_TYPE = 'application/problem+json'
export const CSV_TYPE = 'text/csv'

const READ_HEADERS = {
  'Lateview-Seq': { type: 'integer', description: 'the seq the answer is exact at' },
  'Lateview-Read-From': { type: 'string', enum: ['primary', 'replica'], description: 'the store that answered' },
}

/** A JSON answer; `read` adds the headers of a read a replica may serve. */
export function ok(schema: JsonSchema, description: string, options: { read?: boolean } = {}): JsonSchema {
  return { description, ...(options.read ? { headers: READ_HEADERS } : {}), content: { [JSON_TYPE]: { schema } } }
}

/** A JSON answer or, with ?format=csv or Accept: text/csv, the same as CSV (RFC 4180). */
export function okOrCsv(schema: JsonSchema, description: string, csv: string, headers: Record<string, JsonSchema> = {}): JsonSchema {
  return {
    description,
    headers: { ...READ_HEADERS, 'Content-Disposition': { type: 'string', description: 'CSV: attachment; filename="…"' }, ...headers },
    content: { [JSON_TYPE]: { schema }, [CSV_TYPE]: { schema: { type: 'string', description: csv } } },
  }
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'The request is not valid',
  401: 'No bearer token, or one that is not known (only when LATEVIEW_TOKENS is set)',
  403: 'The token lacks the scope the request needs, or the request is refused',
  404: 'Not found',
  409: 'The request conflicts with the state of the store',
  413: 'The body or the batch is too large',
  415: 'The content type is not one this route takes',
  422: 'A figure would leave the range lateview keeps exactly',
  503: 'The store or the broker cannot answer now, or the server is shutting down; retry',
}

const PROBLEM_CONTENT = { [PROBLEM_TYPE]: { schema: ref('Problem') } }

/**
 * Problem answers by status, each listing the codes this route answers with it; `default` stands
 * for the rest (no such route 404, 405, 431, 500, 503 while shutting down).
 */
export function problems(byStatus: Partial<Record<400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 503, readonly ErrorCode[]>>): Record<string, JsonSchema> {
  const responses: Record<string, JsonSchema> = {}
  for (const [status, codes] of Object.entries(byStatus)) {
    responses[status] = {
      description: `${STATUS_TEXT[Number(status)] ?? 'A problem'}: ${codes.join(', ')}`,
      ...(status === '401' || status === '403' ? { headers: { 'WWW-Authenticate': { type: 'string', description: 'Bearer realm="lateview", and the error' } } } : {}),
      content: PROBLEM_CONTENT,
    }
  }
  responses.default = { description: 'Any other problem, e.g. 404 LV_ERR_ROUTE_NOT_FOUND, 405 LV_ERR_METHOD_NOT_ALLOWED, 500 LV_ERR_INTERNAL, 503 LV_ERR_SHUTTING_DOWN', content: PROBLEM_CONTENT }
  return responses
}

/** The codes a route that reads the store may answer 503 with. */
export const STORE_FAULTS: readonly ErrorCode[] = ['LV_ERR_STORE_BUSY', 'LV_ERR_STORE_UNAVAILABLE', 'LV_ERR_STORE_FULL']

// ---------------------------------------------------------------------------------------------
// Request parts

/**
 * Path parameters, each a string, for the document only: a matched route always has them, and the
 * handler checks what they mean (an unknown view is a 404).
 */
export function pathParams(properties: Record<string, string>): JsonSchema {
  return {
    type: 'object',
    required: Object.keys(properties),
    properties: Object.fromEntries(Object.entries(properties).map(([name, description]) => [name, text(description)])),
    additionalProperties: false,
  }
}

export const VIEW_PARAM = 'the name of a view, e.g. daily_revenue'
export const PERIOD_PARAM = PERIOD.description as string

/**
 * The documented form of a query whose other parameters each filter a dimension (?store=042):
 * one free-form parameter, serialised as form fields.
 */
export function withDimensionFilters(querystring: JsonSchema): JsonSchema {
  const properties = (querystring.properties ?? {}) as Record<string, JsonSchema>
  return {
    type: 'object',
    properties: {
      ...properties,
      filters: {
        type: 'object',
        description: 'any other parameter filters a dimension of the view, e.g. store=042 (sent as plain form fields: style form, explode)',
        additionalProperties: { type: 'string' },
      },
    },
    style: 'form',
    explode: true,
  }
}

// ---------------------------------------------------------------------------------------------
// POST /v1/events

const ce = (description: string): JsonSchema => ({ type: 'string', description })

/** What POST /v1/events takes, for the document: ingest checks each event itself (see the route). */
export const INGEST_DOCUMENTED: NonNullable<FastifySchema['documented']> = {
  body: {
    description:
      'One atomic batch, in one of these forms. CloudEvents binary mode: with a ce-specversion header, the body (any JSON content type, e.g. application/json) is the data of one event whose attributes are the ce-* headers (percent-encoded UTF-8), and content-type its datacontenttype.',
    required: true,
    content: {
      [JSON_TYPE]: { schema: { oneOf: [ref('EventInput'), list(ref('EventInput'), 'a batch of up to 100,000 events')] } },
      'application/x-ndjson': { schema: { type: 'string', description: 'one event (EventInput) per line' } },
      'application/cloudevents+json': { schema: ref('CloudEvent') },
      'application/cloudevents-batch+json': { schema: list(ref('CloudEvent')) },
    },
  },
  headers: {
    type: 'object',
    properties: {
      'ce-specversion': ce('CloudEvents binary mode: 1.0; makes the body the data of one event'),
      'ce-id': ce('binary mode: the id'),
      'ce-source': ce('binary mode: the source'),
      'ce-type': ce('binary mode: the type'),
      'ce-time': ce('binary mode: occurredAt, an ISO 8601 instant with an offset or Z'),
      'ce-subject': ce('binary mode: kept as an attribute'),
      'ce-dataschema': ce('binary mode: kept as an attribute'),
      'ce-retracts': ce('binary mode: the id of an event of the same source this one voids'),
      'ce-receivedat': ce('binary mode, with ?import=true: receivedAt'),
    },
  },
}
