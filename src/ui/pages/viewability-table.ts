import type { ViewabilityReport, ViewabilityRow } from '../../domain/viewability-report.js';
import { h } from '../dom.js';

const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)} %`);

const COLUMNS: Array<[string, string, (r: ViewabilityRow) => string]> = [
  ['served', 'Served', (r) => String(r.served)],
  ['measurable', 'Measurable', (r) => String(r.measurable)],
  ['viewable', 'Viewable', (r) => String(r.viewable)],
  ['measurable_rate', 'Measurable rate', (r) => pct(r.measurable_rate)],
  ['viewable_rate', 'Viewable rate', (r) => pct(r.viewable_rate)],
  ['view_conversions', 'View-through', (r) => String(r.view_conversions)],
  ['viewable_view_conversions', 'From viewable', (r) => String(r.viewable_view_conversions)],
];

/**
 * Viewability beside the report (issue 24): what the `v.js` tag measured of the served
 * impressions, by the report's grouping, and the view-through conversions whose impression
 * was viewable beside all of them. Shown only when some impression was measured: a site
 * with image pixels alone has nothing to say here.
 */
export function viewabilityTable(r: ViewabilityReport): HTMLElement | null {
  if (r.totals.measurable === 0) return null;
  const row = (x: ViewabilityRow, label: string) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, label),
      ...COLUMNS.map(([k, , f]) => h('td', { 'data-col': k }, f(x))),
    );
  return h(
    'section',
    { id: 'viewability' },
    h('h3', {}, 'Viewability (MRC: half the ad in view for a second, two for video)'),
    ...r.notes.map((n) => h('p', { class: 'muted' }, n)),
    h(
      'table',
      { class: 'grid numbers', id: 'viewability-table' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, r.group_by), ...COLUMNS.map(([, t]) => h('th', {}, t))),
      ),
      h('tbody', {}, ...r.rows.map((x) => row(x, x.key || '(none)'))),
      h('tfoot', {}, row(r.totals, 'Total')),
    ),
  );
}
