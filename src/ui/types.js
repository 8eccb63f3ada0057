// @ts-check
// The documents the page reads from lateview's API, and the shapes the page builds from them.
// Types only: the modules import them in JSDoc, so the browser never loads this file.

/**
 * Measure values by measure name; null where a measure has no value (an average of no event).
 * @typedef {Record<string, number | null>} Measures
 */

/** @typedef {Record<string, string | number | boolean | null>} Dims */

/** @typedef {'open' | 'provisional' | 'final'} PeriodStatus */

/** @typedef {'hour' | 'day' | 'week' | 'month'} Granularity */

/** @typedef {'sum' | 'count' | 'min' | 'max' | 'avg'} MeasureKind */

/**
 * A measure as a view file writes it: the aggregation is the key present, e.g.
 * `{ sum: "amount", decimals: 2 }` or `{ count: true }`.
 * @typedef {object} MeasureDefinition
 * @property {string} [sum]
 * @property {true} [count]
 * @property {string} [min]
 * @property {string} [max]
 * @property {string} [avg]
 * @property {number} [decimals]
 */

/**
 * A view definition, as `/v1/views` lists it (the fields the page reads).
 * @typedef {object} View
 * @property {string} name
 * @property {number} version
 * @property {string} description
 * @property {string} timezone
 * @property {Granularity} granularity
 * @property {string[]} eventTypes
 * @property {string[]} dimensions
 * @property {Record<string, MeasureDefinition>} measures
 * @property {{ sources: string[], by: string } | null} expectedSources
 * @property {{ afterDays: number, at: string, lateAfterClose?: string }} [close]
 * @property {{ every?: string, windowDays?: number, minChange?: { relative?: number, absolute?: number } }} [rebuild]
 * @property {{ maxDelay?: string, bySource?: Record<string, string> }} [sla]
 */

/** @typedef {{ views: View[] }} ViewList */

/**
 * The state of a view's periods, which `/v1/views/:view` adds to the definition.
 * @typedef {object} ViewStatus
 * @property {number} seq
 * @property {Record<PeriodStatus, string[]>} periods
 * @property {Array<{ period: string, status: PeriodStatus, latestRevision: number | null, dirtySinceSeq: number, pending?: Pending }>} dirty
 */

/**
 * What a period's live figures hold beyond its latest revision (live totals minus the revision's):
 * late events not published yet, held after close, or a move below `rebuild.minChange`.
 * @typedef {object} Pending
 * @property {number} eventCount
 * @property {Measures} measures
 * @property {boolean} belowMinChange the rebuilder holds it back: no measure moved past the view's `rebuild.minChange`
 */

/** @typedef {View & { status: ViewStatus }} ViewWithStatus */

/**
 * @typedef {object} Totals
 * @property {Measures} measures
 * @property {number} eventCount
 */

/**
 * One published revision of a period, as `/revisions` lists it, oldest first.
 * @typedef {object} RevisionMeta
 * @property {number} revision
 * @property {string} kind flash, consolidated, revision, final, restatement or manual
 * @property {number} cutoffSeq
 * @property {string | null} cutoffReceivedAt
 * @property {string} computedAt
 * @property {string | null} trigger
 * @property {number | null} completeness
 * @property {number} eventCount
 * @property {number} lateEventCount
 * @property {string} hash
 * @property {number} viewVersion
 * @property {Totals} totals
 */

/**
 * @typedef {object} RevisionList
 * @property {string} view
 * @property {string} period
 * @property {PeriodStatus} status
 * @property {RevisionMeta[]} revisions
 */

/**
 * @typedef {object} ReportRow
 * @property {Dims} dims
 * @property {Measures} measures
 * @property {number} eventCount
 */

/**
 * A report: a revision, or what was known as of an instant (then `revision` is null).
 * @typedef {object} Report
 * @property {string} view
 * @property {string} period
 * @property {PeriodStatus} status
 * @property {number | null} revision
 * @property {string} kind
 * @property {number} cutoffSeq
 * @property {string | null} cutoffReceivedAt
 * @property {string} computedAt
 * @property {string | null} trigger
 * @property {number | null} completeness
 * @property {number} eventCount
 * @property {number} lateEventCount
 * @property {string} hash
 * @property {number} viewVersion
 * @property {ReportRow[]} rows
 * @property {Totals} totals
 */

/**
 * An event that explains a change; its contribution counts negative when it retracts another,
 * or when the comparison runs backwards.
 * @typedef {object} ExplainingEvent
 * @property {string} id
 * @property {string} source
 * @property {number} seq
 * @property {string} receivedAt
 * @property {string} occurredAt
 * @property {string} [retracts]
 * @property {Measures} contribution
 */

/**
 * @typedef {object} DiffChange
 * @property {Dims} dims
 * @property {Measures | null} before
 * @property {Measures | null} after
 * @property {Measures} delta
 * @property {ExplainingEvent[]} events
 * @property {Measures} [definitionEffect] across two definitions: the part of the delta no event explains
 */

/**
 * @typedef {object} DiffSideInfo
 * @property {string} label
 * @property {number | null} revision
 * @property {number} cutoffSeq
 * @property {number} viewVersion
 */

/**
 * @typedef {object} DefinitionChange
 * @property {number} from
 * @property {number} to
 * @property {string[]} measuresAdded
 * @property {string[]} measuresRemoved
 * @property {boolean} dimensionsChanged
 * @property {string} note
 */

/**
 * Both sides' totals of a diff and, for each measure both sides have, the exact `after − before`
 * (null where one side shows no value).
 * @typedef {object} DiffTotals
 * @property {Measures} before
 * @property {Measures} after
 * @property {Measures} delta
 */

/**
 * The changed rows between two sides of a period, the events behind each change and the totals.
 * @typedef {object} Diff
 * @property {string} view
 * @property {string} period
 * @property {DiffSideInfo} from
 * @property {DiffSideInfo} to
 * @property {DefinitionChange | null} definition
 * @property {DiffChange[]} changes
 * @property {DiffTotals} totals
 */

/**
 * @typedef {object} RealtimeCell
 * @property {string} period
 * @property {Dims} dims
 * @property {Measures} measures
 * @property {number} eventCount
 */

/**
 * The live cells of a view and their totals (over the cells returned), exact at `seq`.
 * @typedef {{ view: string, seq: number, cells: RealtimeCell[], totals: Totals }} Realtime
 */

/**
 * The data of an alert, by type (the fields the page shows).
 * @typedef {object} AlertData
 * @property {number} [revision] ReportRevised
 * @property {string} [kind] ReportRevised
 * @property {number} [changedCells] ReportRevised
 * @property {string} [expectedBy] MissingData
 * @property {number} [count] DelayedEvent, LateAfterClose
 * @property {string} [maxLag] DelayedEvent
 * @property {string} [sla] DelayedEvent
 * @property {string} [policy] LateAfterClose
 * @property {string} [job] JobFailed
 * @property {string} [error] JobFailed
 */

/**
 * @typedef {object} Alert
 * @property {string} id
 * @property {'DelayedEvent' | 'MissingData' | 'LateAfterClose' | 'ReportRevised' | 'JobFailed'} type
 * @property {'firing' | 'resolved'} status
 * @property {string} createdAt
 * @property {string | null} resolvedAt
 * @property {string | null} view
 * @property {string | null} period
 * @property {string | null} source
 * @property {AlertData} data
 */

/** @typedef {{ alerts: Alert[] }} AlertList */

/**
 * An error answer of the API (RFC 9457).
 * @typedef {object} Problem
 * @property {string} [type]
 * @property {string} [title]
 * @property {number} [status]
 * @property {string} [detail]
 * @property {string} [code]
 */

/**
 * A side of a comparison: a revision number as text, or `asOf:<ISO instant>`.
 * @typedef {string} Side
 */

/**
 * A period's state in the calendar.
 * @typedef {{ status: PeriodStatus, dirty: boolean }} PeriodInfo
 */

/**
 * A row of the comparison: one combination of dimensions, its measures on each side and, when
 * it changed, the diff's change.
 * @typedef {object} Row
 * @property {string} key
 * @property {Dims} dims
 * @property {Measures | null} before
 * @property {Measures | null} after
 * @property {DiffChange | null} change
 */

/**
 * The two compared sides as loaded, and the rows built from them.
 * @typedef {{ before: Report, after: Report, diff: Diff, rows: Row[] }} Comparison
 */

/** @typedef {'changed' | 'new' | 'removed' | 'same'} RowStatus */

/**
 * A row's shown figures for the chosen measure.
 * @typedef {object} Figures
 * @property {number | null} before
 * @property {number | null} after
 * @property {number | null} delta
 * @property {number} events
 * @property {RowStatus} status
 */

/**
 * A column of the comparison table.
 * @typedef {object} Column
 * @property {string} key
 * @property {string} label
 * @property {'text' | 'num'} type
 * @property {(row: Row) => string | number | null} value
 */

/**
 * What a link names (the URL's hash); each is null when absent.
 * @typedef {object} Wanted
 * @property {string | null} view
 * @property {string | null} period
 * @property {Side | null} from
 * @property {Side | null} to
 * @property {string | null} row
 * @property {string | null} measure
 * @property {boolean} reliability whether the Reliability panel is open
 */

/**
 * The spread of a share across periods; all null when no period counts.
 * @typedef {{ min: number | null, p10: number | null, p50: number | null, p90: number | null }} Spread
 */

/**
 * One release kind's revisions against the benchmark (`…/accuracy`).
 * @typedef {object} ReleaseStatistics
 * @property {string} kind
 * @property {number} n
 * @property {number} meanRevision
 * @property {number} meanAbsRevision
 * @property {number | null} relativeMeanAbsRevision
 * @property {number} minRevision
 * @property {number} maxRevision
 * @property {number} stdRevision
 * @property {number | null} accuracy
 * @property {number} withinOnePercent
 */

/**
 * @typedef {object} Accuracy
 * @property {string} view
 * @property {string} measure
 * @property {'final' | 'latest'} against
 * @property {string | null} from
 * @property {string | null} to
 * @property {ReleaseStatistics[]} releases
 * @property {Array<{ period: string, benchmark: number | null, releases: Record<string, { revision: number | null, value: number | null, publishedAt: string }> }>} periods
 * @property {Array<{ period: string, kind: string, reason: string }>} [excluded]
 */

/**
 * The revision triangle (`…/vintages`): each period's value known at each lag after its end.
 * @typedef {object} Vintages
 * @property {string} view
 * @property {string} measure
 * @property {string[]} lags ISO 8601 durations, possibly negative
 * @property {Array<{ period: string, benchmark: number | null, values: Array<{ lag: string, knownAt: string, value: number | null, share: number | null }> }>} rows
 */

/**
 * @typedef {object} SourceLags
 * @property {string} source
 * @property {number} count
 * @property {string} lagP50
 * @property {string} lagP90
 * @property {string} lagP99
 * @property {string} lagMax
 */

/**
 * The completeness curve (`…/completeness`): shares of the benchmark known at each lag.
 * @typedef {{ points: Array<{ lag: string, value: Spread, events: Spread }>, sources: SourceLags[] }} Completeness
 */

/**
 * @typedef {object} CloseCandidate
 * @property {number} afterDays
 * @property {string} at "D+3 03:30"
 * @property {number} periodsRestated
 * @property {number | null} shareRestated
 * @property {number | null} meanAbsRestatement
 * @property {number | null} maxAbsRestatement
 * @property {number | null} [meanAbsRestatementRelative]
 * @property {number | null} [maxAbsRestatementRelative]
 * @property {number | null} valueKnown
 * @property {boolean} [incomplete]
 */

/**
 * @typedef {object} CloseAdvice
 * @property {CloseCandidate[]} candidates
 * @property {{ afterDays: number, at: string } | null} recommended
 * @property {Array<{ source: string, suggested: string }>} sla
 */

/**
 * The four answers the Reliability panel draws, for one view and measure.
 * @typedef {{ vintages: Vintages, accuracy: Accuracy, completeness: Completeness, closeAdvice: CloseAdvice }} Reliability
 */

export {}
