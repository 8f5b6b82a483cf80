import { ApiError, api, qs, upload } from '../api.js';
import { h } from '../dom.js';
import type { PageContext } from '../page.js';
import { ratioCell } from '../ratio-cell.js';
import { channelRulesSection } from './channel-rules.js';

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 30;
const MODELS = [
  ['last_touch', 'Last touch'],
  ['first_touch', 'First touch'],
  ['linear', 'Linear'],
  ['time_decay', 'Time decay'],
  ['position_based', 'Position'],
  ['data_driven', 'Data-driven'],
] as const;
type Model = (typeof MODELS)[number][0];

interface Figures {
  conversions: number;
  revenue: number | null;
  cpa: number | null;
  roas: number | null;
  /** Why cpa or roas is null: money no rate converted. */
  ratio_note: string | null;
}
type Row = {
  key: string;
  cost: number | null;
  impressions: number | null;
  clicks: number | null;
} & Record<Model, Figures>;
interface ChannelReport {
  currency: string | null;
  conversions: number;
  rows: Row[];
  totals: Record<Model, Figures>;
  cost: { cost: number | null; impressions: number | null; clicks: number | null };
  unconverted: Array<{ currency: string; revenue: number; reason: string }>;
  unconverted_cost: Array<{ currency: string; cost: number; reason: string }>;
  rates: Array<{ from: string; to: string; rate: number; date: string }>;
  notes: string[];
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const num = (v: number | null, digits = 2) =>
  v === null ? '—' : v.toLocaleString(undefined, { maximumFractionDigits: digits });

/** The report's table: each row's cost, then every model's figures side by side. */
function reportTable(r: ChannelReport, by: string): HTMLElement {
  const cells = (x: Pick<Row, 'cost' | 'impressions' | 'clicks'> & Record<Model, Figures>) => [
    h('td', {}, num(x.cost)),
    h('td', {}, num(x.impressions, 0)),
    h('td', {}, num(x.clicks, 0)),
    ...MODELS.flatMap(([m]) => [
      h('td', { class: 'model-start' }, num(x[m].conversions)),
      h('td', {}, num(x[m].revenue)),
      ratioCell(num(x[m].cpa), x[m].cpa === null ? x[m].ratio_note : null),
      ratioCell(num(x[m].roas), x[m].roas === null ? x[m].ratio_note : null),
    ]),
  ];
  const label = { channel: 'Channel', source_medium: 'Source / medium', campaign: 'Campaign' }[by];
  return h(
    'table',
    { class: 'grid numbers', id: 'ch-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { rowspan: 2 }, label ?? by),
        h('th', { colspan: 3 }, `Imported (${r.currency ?? 'per currency'})`),
        ...MODELS.map(([, t]) => h('th', { colspan: 4, class: 'model-start' }, t)),
      ),
      h(
        'tr',
        {},
        h('th', {}, 'Cost'),
        h('th', {}, 'Impr.'),
        h('th', {}, 'Clicks'),
        ...MODELS.flatMap(() => [
          h('th', { class: 'model-start' }, 'Conv.'),
          h('th', {}, 'Revenue'),
          h('th', {}, 'CPA'),
          h('th', {}, 'ROAS'),
        ]),
      ),
    ),
    h(
      'tbody',
      {},
      ...r.rows.map((x) => h('tr', {}, h('th', { scope: 'row' }, x.key), ...cells(x))),
    ),
    h('tfoot', {}, h('tr', {}, h('th', {}, 'Total'), ...cells({ ...r.cost, ...r.totals }))),
  );
}

function notes(r: ChannelReport): HTMLElement[] {
  return [
    ...r.unconverted.map((u) =>
      h(
        'p',
        { class: 'warn-text' },
        `Revenue not converted: ${u.currency} ${u.revenue}: ${u.reason}`,
      ),
    ),
    ...r.unconverted_cost.map((u) =>
      h('p', { class: 'warn-text' }, `Cost not converted: ${u.currency} ${u.cost}: ${u.reason}`),
    ),
    ...r.rates.map((x) =>
      h('p', { class: 'muted' }, `Converted ${x.from}→${x.to} at ${x.rate} (rate dated ${x.date})`),
    ),
    ...r.notes.map((n) => h('p', { class: 'muted' }, n)),
  ];
}

interface CostAnswer {
  saved: number;
  errors: Array<{ index: number; line?: number; field: string; message: string }>;
}

/** The cost upload: a CSV file to `/api/costs`, its refused lines listed. */
function costUpload(envId: string, reload: () => Promise<void>): HTMLElement {
  const file = h('input', {
    id: 'cost-file',
    type: 'file',
    accept: '.csv,text/csv',
    required: true,
  });
  const out = h('div', { id: 'cost-result', role: 'status' });
  const button = h('button', { type: 'submit' }, 'Import costs');
  const errorTable = (errors: CostAnswer['errors']) =>
    h(
      'table',
      { class: 'grid' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'Line'), h('th', {}, 'Field'), h('th', {}, 'Problem')),
      ),
      h(
        'tbody',
        {},
        ...errors
          .slice(0, 50)
          .map((e) =>
            h(
              'tr',
              {},
              h('td', {}, String(e.line ?? e.index + 2)),
              h('td', {}, e.field),
              h('td', {}, e.message),
            ),
          ),
      ),
    );
  return h(
    'form',
    {
      class: 'import',
      id: 'cost-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const chosen = file.files?.[0];
        if (!chosen) return;
        button.disabled = true;
        upload<CostAnswer>(`/api/costs?${qs({ env_id: envId })}`, chosen, 'text/csv')
          .then(
            async (x) => {
              out.replaceChildren(
                h('p', {}, `${x.saved} daily costs saved, ${x.errors.length} problems.`),
                x.errors.length ? errorTable(x.errors) : '',
              );
              await reload();
            },
            (err: Error) =>
              out.replaceChildren(
                h('p', { class: 'error', role: 'alert' }, err.message),
                err instanceof ApiError && err.fields.length
                  ? errorTable(err.fields as CostAnswer['errors'])
                  : '',
              ),
          )
          .finally(() => {
            button.disabled = false;
          });
      },
    },
    h(
      'p',
      { class: 'muted' },
      'CSV: date,campaign_id,cost,currency and optional channel,source,medium,impressions,clicks. ',
      'Importing the same days again replaces them.',
    ),
    h('label', { for: 'cost-file' }, 'Cost file'),
    file,
    button,
    out,
  );
}

/** Channels: the report by channel, source / medium or campaign; costs; the channel rules. */
export async function channelsPage({ env, main }: PageContext): Promise<void> {
  const today = Date.now();
  const from = h('input', {
    type: 'date',
    id: 'ch-from',
    value: isoDay(today - (DEFAULT_DAYS - 1) * DAY_MS),
  });
  const to = h('input', { type: 'date', id: 'ch-to', value: isoDay(today) });
  const by = h(
    'select',
    { id: 'ch-by' },
    h('option', { value: 'channel' }, 'channel'),
    h('option', { value: 'source_medium' }, 'source / medium'),
    h('option', { value: 'campaign' }, 'campaign'),
  );
  const tableBox = h('div', { class: 'scroll' });
  const notesBox = h('div', {});
  const summary = h('p', { class: 'muted', id: 'ch-summary', role: 'status' });
  const load = async () => {
    const end = new Date(`${to.value}T00:00:00Z`).getTime() + DAY_MS;
    const r = await api<ChannelReport>(
      `/api/reports/attribution?${qs({ env_id: env.id, model: 'all', by: by.value, from: `${from.value}T00:00:00Z`, to: new Date(end).toISOString() })}`,
    );
    tableBox.replaceChildren(reportTable(r, by.value));
    notesBox.replaceChildren(...notes(r));
    summary.textContent = `${r.conversions} conversion${r.conversions === 1 ? '' : 's'}; money in ${r.currency ?? 'their own currencies'}.`;
  };
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
      h('label', {}, 'Rows ', by),
      h('button', { type: 'submit' }, 'Show'),
    ),
    summary,
    tableBox,
    notesBox,
    h('h2', {}, 'Costs'),
    costUpload(env.id, load),
    h('h2', {}, 'Channel rules'),
    await channelRulesSection(env.id, load),
  );
  await load();
}
