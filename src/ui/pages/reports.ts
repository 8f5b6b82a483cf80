import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Report, ReportRow } from '../../domain/report.js';
import type { ViewabilityReport } from '../../domain/viewability-report.js';
import { api, qs } from '../api.js';
import { h } from '../dom.js';
import type { PageContext } from '../page.js';
import { ratioCell } from '../ratio-cell.js';
import { liftSection } from './lift.js';
import { skanTable } from './skan-table.js';
import { viewabilityTable } from './viewability-table.js';

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 30;

const COLUMNS: Array<[keyof ReportRow, string]> = [
  ['impressions', 'Impressions'],
  ['clicks', 'Clicks'],
  ['conversions', 'Conversions'],
  ['view_conversions', 'View-through'],
  ['click_conversions', 'Click-through'],
  ['deterministic_conversions', 'Deterministic'],
  ['probabilistic_conversions', 'Probabilistic'],
  ['unattributed', 'Unattributed'],
  ['click_conversion_rate', 'Click CVR'],
  ['view_conversion_rate', 'View CVR'],
  ['revenue', 'Revenue'],
  ['cost', 'Cost'],
  ['cpa', 'Cost / conv.'],
  ['roas', 'ROAS'],
];

function cell(v: unknown, key: keyof ReportRow): string {
  if (v === null || v === undefined) return '—';
  if (key.endsWith('_rate') && typeof v === 'number') return `${(v * 100).toFixed(2)} %`;
  if (typeof v === 'number') return v.toLocaleString(undefined, { maximumFractionDigits: 2 });
  return String(v);
}

function table(r: Report): HTMLElement {
  const row = (x: ReportRow, label: string) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, label),
      ...COLUMNS.map(([k]) =>
        (k === 'cpa' || k === 'roas') && x[k] === null
          ? ratioCell(cell(x[k], k), x.ratio_note)
          : h('td', {}, cell(x[k], k)),
      ),
    );
  return h(
    'table',
    { class: 'grid numbers', id: 'report-table' },
    h('thead', {}, h('tr', {}, h('th', {}, r.group_by), ...COLUMNS.map(([, t]) => h('th', {}, t)))),
    h('tbody', {}, ...r.rows.map((x) => row(x, x.key || '(none)'))),
    h('tfoot', {}, row(r.totals, 'Total')),
  );
}

function chart(target: HTMLElement, rows: ReportRow[]): uPlot {
  const xs = rows.map((x) => Date.parse(`${x.key}T00:00:00Z`) / 1000);
  const width = Math.max(300, Math.min(target.clientWidth || 900, 1200));
  return new uPlot(
    {
      width,
      height: 260,
      series: [
        {},
        { label: 'Impressions', stroke: '#7a8ca3', scale: 'touches' },
        { label: 'Clicks', stroke: '#3a7bd5', scale: 'touches' },
        { label: 'View-through', stroke: '#e0a100', width: 2 },
        { label: 'Click-through', stroke: '#1b9e55', width: 2 },
      ],
      axes: [
        {},
        { scale: 'touches', label: 'touches' },
        { side: 1, label: 'conversions', grid: { show: false } },
      ],
      scales: { x: { time: true } },
    },
    [
      xs,
      rows.map((x) => x.impressions),
      rows.map((x) => x.clicks),
      rows.map((x) => x.view_conversions),
      rows.map((x) => x.click_conversions),
    ],
    target,
  );
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const money = (v: number | null, currency: string | null) =>
  v === null
    ? '—'
    : `${v.toLocaleString(undefined, { maximumFractionDigits: 2 })} ${currency ?? ''}`;

/**
 * The two views side by side (issue 19 §4): what the platforms together claim, what
 * happened once each, and the over-count between them; then money left unconverted.
 */
function viewsPanel(r: Report): HTMLElement {
  const v = r.views;
  const line = (label: string, x: { conversions: number; revenue: number | null }) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, label),
      h('td', {}, String(x.conversions)),
      h('td', {}, money(x.revenue, r.currency)),
    );
  return h(
    'div',
    { id: 'r-views' },
    h(
      'table',
      { class: 'grid numbers' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'View'), h('th', {}, 'Conversions'), h('th', {}, 'Revenue')),
      ),
      h(
        'tbody',
        {},
        line('Platform (each destination’s credit)', v.platform),
        line('Deduplicated (each conversion once)', v.deduplicated),
        line('Over-count across platforms', v.overcount),
      ),
    ),
    ...r.unconverted.map((u) =>
      h(
        'p',
        { class: 'warn-text' },
        `Not converted: ${u.currency} ${u.revenue} revenue, ${u.cost} cost (${u.from} – ${u.to}): ${u.reason}`,
      ),
    ),
    // The dated rates the converted figures rest on (DESIGN §6), so a reader can check them.
    ...r.rates.map((x) =>
      h(
        'p',
        { class: 'muted' },
        `Converted ${x.from}→${x.to} at ${x.rate} (rate dated ${x.date}) for ${x.first_used} – ${x.last_used}`,
      ),
    ),
    ...r.notes.map((n) => h('p', { class: 'muted' }, n)),
  );
}

/** Reports: a daily chart, a table grouped as asked, CSV, and campaign spend entry. */
export async function reportsPage({ env, main, signal }: PageContext): Promise<void> {
  const today = Date.now();
  const from = h('input', {
    type: 'date',
    id: 'r-from',
    value: isoDay(today - (DEFAULT_DAYS - 1) * DAY_MS),
  });
  const to = h('input', { type: 'date', id: 'r-to', value: isoDay(today) });
  const group = h(
    'select',
    { id: 'r-group' },
    ...['day', 'campaign', 'creative', 'destination'].map((g) => h('option', { value: g }, g)),
  );
  const dest = h(
    'select',
    { id: 'r-dest' },
    h('option', { value: '' }, 'all destinations'),
    ...env.destinations.map((d) => h('option', { value: d.id }, d.id)),
  );
  const view = h(
    'select',
    { id: 'r-view' },
    h('option', { value: 'deduplicated' }, 'deduplicated'),
    h('option', { value: 'platform' }, 'platform'),
  );
  const csv = h('a', { class: 'button', id: 'r-csv', download: '' }, 'Download CSV');
  const viewsBox = h('div', {});
  const chartBox = h('div', { class: 'chart', id: 'r-chart' });
  const tableBox = h('div', { class: 'scroll' });
  const timing = h('p', { class: 'muted', id: 'r-timing', role: 'status' });
  let plot: uPlot | null = null;
  signal.addEventListener('abort', () => plot?.destroy());

  const load = async () => {
    const started = performance.now();
    const base = {
      env_id: env.id,
      from: from.value,
      to: to.value,
      dest_id: dest.value,
      view: view.value,
    };
    const wanted = group.value;
    // One request: any grouping also carries the same range by day for the chart.
    // Viewability, by the same grouping, range and view, fetched alongside (issue 24).
    const [report, views] = await Promise.all([
      api<Report>(`/api/reports?${qs({ ...base, group_by: wanted })}`),
      api<ViewabilityReport>(`/api/reports/viewability?${qs({ ...base, group_by: wanted })}`),
    ]);
    plot?.destroy();
    chartBox.replaceChildren();
    plot = chart(chartBox, report.days ?? report.rows);
    const viewability = viewabilityTable(views);
    tableBox.replaceChildren(
      table(report),
      ...(viewability ? [viewability] : []),
      ...(report.skan ? [skanTable(report.skan)] : []),
    );
    viewsBox.replaceChildren(viewsPanel(report));
    csv.setAttribute('href', `/api/reports?${qs({ ...base, group_by: wanted, format: 'csv' })}`);
    const ms = Math.round(performance.now() - started);
    timing.textContent = `Rendered in ${ms} ms`;
    timing.dataset.ms = String(ms);
    console.info(`pixeltrail report rendered in ${ms} ms`);
  };

  const costCampaign = h('input', { id: 'c-campaign', required: true });
  const costFrom = h('input', { type: 'date', id: 'c-from', required: true, value: from.value });
  const costTo = h('input', { type: 'date', id: 'c-to', required: true, value: to.value });
  const costValue = h('input', {
    type: 'number',
    id: 'c-cost',
    min: 0,
    step: '0.01',
    required: true,
  });
  const costCurrency = h('input', { id: 'c-currency', placeholder: 'EUR', maxlength: 3, size: 4 });
  const costMsg = h('span', { role: 'status' });
  const costForm = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e: Event) => {
        e.preventDefault();
        api('/api/campaign-costs', 'PUT', {
          env_id: env.id,
          campaign_id: costCampaign.value.trim(),
          from: costFrom.value,
          to: costTo.value,
          cost: Number(costValue.value),
          ...(costCurrency.value ? { currency: costCurrency.value.toUpperCase() } : {}),
        }).then(
          () => {
            costMsg.textContent = 'Saved.';
            return load();
          },
          (err: Error) => {
            costMsg.textContent = err.message;
          },
        );
      },
    },
    h('label', {}, 'Campaign ', costCampaign),
    h('label', {}, 'From ', costFrom),
    h('label', {}, 'To ', costTo),
    h('label', {}, 'Spend ', costValue),
    h('label', {}, 'Currency ', costCurrency),
    h('button', { type: 'submit' }, 'Save spend'),
    costMsg,
  );

  main.append(
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void load();
        },
      },
      h('label', {}, 'From ', from),
      h('label', {}, 'To ', to),
      h('label', {}, 'Group by ', group),
      h('label', {}, 'Destination ', dest),
      h('label', {}, 'View ', view),
      h('button', { type: 'submit' }, 'Show'),
      csv,
    ),
    timing,
    viewsBox,
    chartBox,
    tableBox,
    h('h2', {}, 'Campaign spend'),
    h(
      'p',
      { class: 'muted' },
      'Spend is spread evenly over the days; reports then show cost per conversion and ROAS.',
    ),
    costForm,
  );
  await load();
  main.append(await liftSection(env));
}
