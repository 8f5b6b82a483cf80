import type { SkanCounts, SkanRow, SkanSection } from '../../domain/skan-report.js';
import { h } from '../dom.js';

const COLUMNS: Array<[string, string, (c: SkanCounts) => string]> = [
  ['installs', 'Installs', (c) => String(c.installs)],
  ['redownloads', 'Re-downloads', (c) => String(c.redownloads)],
  ['reengagements', 'Re-engagements', (c) => String(c.reengagements)],
  ['non_winning', 'Not winning', (c) => String(c.non_winning)],
  [
    'events',
    'Conversions (window)',
    (c) => c.events.map((e) => `${e.event} ×${e.count} (${e.window})`).join(', ') || '—',
  ],
  ['unmapped', 'Unmapped', (c) => String(c.unmapped)],
  [
    'revenue',
    'Revenue (low–high)',
    (c) => c.revenue.map((r) => `${r.currency} ${r.min}–${r.max} (~${r.mid})`).join('; ') || '—',
  ],
];

/**
 * Apple's postbacks by campaign (issue 25), under the report's own table and labelled as a
 * source of their own: never part of the figures above.
 */
export function skanTable(s: SkanSection): HTMLElement {
  const row = (c: SkanCounts, label: string, title?: string) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row', title }, label),
      ...COLUMNS.map(([k, , f]) => h('td', { 'data-col': k }, f(c))),
    );
  const label = (r: SkanRow) => `${r.key}${r.app_name ? ` · ${r.app_name}` : ''}`;
  return h(
    'section',
    { id: 'skan' },
    h('h3', {}, 'SKAdNetwork / AdAttributionKit (Apple postbacks, a separate source)'),
    ...s.notes.map((n) => h('p', { class: 'muted' }, n)),
    h(
      'table',
      { class: 'grid numbers', id: 'skan-table' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'campaign'), ...COLUMNS.map(([, t]) => h('th', {}, t))),
      ),
      h(
        'tbody',
        {},
        ...s.rows.map((r) => row(r, label(r), `${r.ad_network_id}: ${r.sources.join(', ')}`)),
      ),
      h('tfoot', {}, row(s.totals, 'Total')),
    ),
  );
}
