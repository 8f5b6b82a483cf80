import type { LiftEstimate } from '../../domain/lift-stats.js';
import { api, qs } from '../api.js';
import { h } from '../dom.js';
import type { Environment } from '../page.js';

// The lift of each holdout (issue 23 §3), under the Reports page: the sentence first, then
// what each group did and every figure with its interval.

interface HoldoutView {
  id: string;
  name: string;
  audience_id?: string;
  campaign_id?: string;
  fraction: number;
}

interface GroupView {
  people: number;
  converters: number;
  conversions: number;
  revenue_by_currency: Record<string, number>;
}

interface LiftView {
  entries: number;
  switched: number;
  groups: { exposed: GroupView; holdout: GroupView };
  conversion_rate: LiftEstimate;
  conversions_per_person: LiftEstimate;
  revenue_per_person: Record<string, LiftEstimate>;
  summary: string;
}

const num = (x: number, digits = 4) =>
  x.toLocaleString(undefined, { maximumFractionDigits: digits });
const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)} %`);
const range = (ci: [number, number] | null, f: (x: number) => string) =>
  ci === null ? '—' : `${f(ci[0])} to ${f(ci[1])}`;

function figureRow(label: string, e: LiftEstimate): HTMLElement {
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, label),
    h('td', {}, num(e.exposed)),
    h('td', {}, num(e.holdout)),
    h('td', {}, e.absolute === null ? '—' : num(e.absolute)),
    h(
      'td',
      {},
      range(e.absolute_ci, (x) => num(x)),
    ),
    h('td', {}, pct(e.relative)),
    h('td', {}, range(e.relative_ci, pct)),
    h('td', {}, e.p_value === null ? '—' : e.p_value.toPrecision(2)),
  );
}

function groupRow(label: string, g: GroupView): HTMLElement {
  const money = Object.entries(g.revenue_by_currency)
    .map(([c, v]) => `${c} ${num(v, 2)}`)
    .join('; ');
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, label),
    h('td', {}, num(g.people)),
    h('td', {}, num(g.converters)),
    h('td', {}, num(g.conversions)),
    h('td', {}, money || '—'),
  );
}

/** Why a figure has no interval ("not enough data: …"), one line per figure. */
function notes(r: LiftView): HTMLElement | null {
  const all: Array<[string, LiftEstimate]> = [
    ['Conversion rate', r.conversion_rate],
    ['Conversions', r.conversions_per_person],
    ...Object.entries(r.revenue_per_person).map(([c, e]): [string, LiftEstimate] => [
      `Revenue (${c})`,
      e,
    ]),
  ];
  const lines = all
    .filter(([, e]) => e.note !== null)
    .map(([l, e]) => h('li', {}, `${l}: ${e.note}`));
  return lines.length > 0 ? h('ul', { class: 'muted', id: 'lift-notes' }, ...lines) : null;
}

function render(r: LiftView): HTMLElement {
  const head = (...cols: string[]) =>
    h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', {}, c))));
  return h(
    'div',
    { id: 'lift-report' },
    h('p', { class: 'lift-summary', id: 'lift-summary', role: 'status' }, r.summary),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'grid numbers', id: 'lift-groups' },
        head('Group', 'People', 'Converters', 'Conversions', 'Revenue'),
        h(
          'tbody',
          {},
          groupRow('Exposed', r.groups.exposed),
          groupRow('Held out', r.groups.holdout),
        ),
      ),
    ),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'grid numbers', id: 'lift-figures' },
        head('Per person', 'Exposed', 'Held out', 'Lift', '95 % CI', 'Relative', '95 % CI', 'p'),
        h(
          'tbody',
          {},
          figureRow('Conversion rate', r.conversion_rate),
          figureRow('Conversions', r.conversions_per_person),
          ...Object.entries(r.revenue_per_person).map(([c, e]) => figureRow(`Revenue (${c})`, e)),
        ),
      ),
    ),
    notes(r),
    r.switched > 0
      ? h(
          'p',
          { class: 'muted' },
          `${r.switched} people saw both sides (the fraction changed, or their ids entered on both) and count in neither.`,
        )
      : null,
  );
}

/** The lift section: a holdout picker and its report, or how to make one. */
export async function liftSection(env: Environment): Promise<HTMLElement> {
  const { holdouts } = await api<{ holdouts: HoldoutView[] }>(
    `/api/holdouts?${qs({ env_id: env.id })}`,
  );
  const box = h('section', { id: 'lift' }, h('h2', {}, 'Lift (holdouts)'));
  if (holdouts.length === 0) {
    box.append(
      h(
        'p',
        { class: 'muted', id: 'lift-none' },
        'No holdout yet. Give an audience "holdout": {"fraction": 0.1}, or POST /api/holdouts ' +
          'with a campaign_id, to measure what the ads add.',
      ),
    );
    return box;
  }
  const pick = h(
    'select',
    { id: 'lift-holdout' },
    ...holdouts.map((x) =>
      h(
        'option',
        { value: x.id },
        `${x.name} (${x.audience_id ? 'audience' : 'campaign'}, ${pct(x.fraction)} held out)`,
      ),
    ),
  );
  const out = h('div', {});
  const load = async () => {
    out.replaceChildren(
      render(await api<LiftView>(`/api/reports/lift?${qs({ holdout_id: pick.value })}`)),
    );
  };
  pick.addEventListener('change', () => void load());
  box.append(h('label', {}, 'Holdout ', pick), out);
  await load();
  return box;
}
