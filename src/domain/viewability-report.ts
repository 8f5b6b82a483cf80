import { DAY_S, dayKey, type ReportView } from './report.js';

// The viewability report (issue 24): per campaign, placement or creative, how many served
// impressions the tag could measure and how many were viewable (MRC), and the view-through
// conversions beside the part of them credited to a viewable impression.

/** How the report groups its rows; `total` is one row. */
export type ViewabilityGroup =
  | 'campaign'
  | 'placement'
  | 'creative'
  | 'destination'
  | 'day'
  | 'total';

export const VIEWABILITY_GROUPS: readonly ViewabilityGroup[] = [
  'campaign',
  'placement',
  'creative',
  'destination',
  'day',
  'total',
];

/** What the report asks for. Times are Unix seconds, `to_s` exclusive. */
export interface ViewabilityQuery {
  env_id: string;
  from_s: number;
  to_s: number;
  group_by: ViewabilityGroup;
  /** Whose view-through credits count (as the main report: per destination, or once each). */
  view: ReportView;
  dest_id?: string;
  campaign_id?: string;
}

/** Raw counts of one group, as the store adds them up. */
export interface ViewabilityCounts {
  /** The campaign, placement, creative or destination id, `YYYY-MM-DD`, or `''` (none, total). */
  key: string;
  /** Impressions stored in the range (human traffic: bots never run the tag). */
  served: number;
  /** Of those, the ones the viewability tag could measure. */
  measurable: number;
  /** Of those, the ones that met the MRC threshold. */
  viewable: number;
  /** View-through conversions credited in the range (event time) to this group's impressions. */
  view_conversions: number;
  /** Of those, the ones whose credited impression was viewable. */
  viewable_view_conversions: number;
}

export interface ViewabilityRow extends ViewabilityCounts {
  /** measurable / served. */
  measurable_rate: number | null;
  /** viewable / measurable: the MRC's viewable rate (unmeasured impressions left out). */
  viewable_rate: number | null;
  /** viewable / served: every served impression counted, measured or not. */
  viewable_share_of_served: number | null;
  /** viewable_view_conversions / view_conversions. */
  viewable_conversion_share: number | null;
}

export interface ViewabilityReport {
  env_id: string;
  from: string;
  to: string;
  group_by: ViewabilityGroup;
  view: ReportView;
  rows: ViewabilityRow[];
  totals: ViewabilityRow;
  notes: string[];
}

export function emptyViewabilityCounts(key: string): ViewabilityCounts {
  return {
    key,
    served: 0,
    measurable: 0,
    viewable: 0,
    view_conversions: 0,
    viewable_view_conversions: 0,
  };
}

const ratio = (a: number, b: number): number | null =>
  b === 0 ? null : Math.round((a / b) * 10_000) / 10_000;

export function viewabilityRow(c: ViewabilityCounts): ViewabilityRow {
  return {
    ...c,
    measurable_rate: ratio(c.measurable, c.served),
    viewable_rate: ratio(c.viewable, c.measurable),
    viewable_share_of_served: ratio(c.viewable, c.served),
    viewable_conversion_share: ratio(c.viewable_view_conversions, c.view_conversions),
  };
}

/** The key of a group as rows show it: a day as `YYYY-MM-DD`, a missing id as `''`. */
export function viewabilityKey(group: ViewabilityGroup, k: unknown): string {
  if (k === null || k === undefined || group === 'total') return '';
  return group === 'day' ? dayKey(Number(k)) : String(k);
}

/** The UTC day number of a Unix time. */
export const dayOf = (s: number) => Math.floor(s / DAY_S);

/** The report from its counts: rows by key (days in order, others by served, most first). */
export function viewabilityReport(
  q: ViewabilityQuery,
  counts: ViewabilityCounts[],
): ViewabilityReport {
  const rows = counts.map(viewabilityRow);
  rows.sort((a, b) =>
    q.group_by === 'day'
      ? a.key.localeCompare(b.key)
      : b.served - a.served || a.key.localeCompare(b.key),
  );
  const sum = emptyViewabilityCounts('');
  for (const c of counts) {
    sum.served += c.served;
    sum.measurable += c.measurable;
    sum.viewable += c.viewable;
    sum.view_conversions += c.view_conversions;
    sum.viewable_view_conversions += c.viewable_view_conversions;
  }
  const notes = [
    'measurable and viewable count impressions measured by the viewability tag (/v.js); an impression served by the /i pixel alone is served, not measurable',
    'viewable_rate is viewable / measurable (the MRC rate); viewable_share_of_served is viewable / served',
  ];
  if (sum.served === 0 && sum.view_conversions === 0) notes.push('no impressions in this range');
  return {
    env_id: q.env_id,
    from: new Date(q.from_s * 1000).toISOString(),
    to: new Date(q.to_s * 1000).toISOString(),
    group_by: q.group_by,
    view: q.view,
    rows,
    totals: viewabilityRow(sum),
    notes,
  };
}
