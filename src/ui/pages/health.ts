import type { Light, MatchQuality } from '../../domain/health.js';
import type { PlatformMatchQuality } from '../../domain/match-quality.js';
import { api } from '../api.js';
import { h, pill, time } from '../dom.js';
import type { PageContext } from '../page.js';

interface Health {
  touches: { last_seen_ms: number | null; count: number };
  visits: { last_seen_ms: number | null; count: number };
  sources: Array<{
    source: string;
    last_seen_ms: number;
    events: number;
    events_per_min: number;
    dedup_rate: number;
    match_quality: MatchQuality;
    light: Light;
    reason: string;
  }>;
  destinations: Array<{
    dest_id: string;
    type: string;
    conversions: number;
    match_rate: number | null;
    match_quality: DestinationQuality;
    success_rate: number | null;
    backlog: number;
    dead: number;
    pixel_hits: number;
    unexpanded_macro_share: number | null;
    unexpanded_macro_params: Record<string, number>;
    install_fraud: {
      flagged: number;
      click_injection: number;
      click_flooding: number;
      suspicious_install: number;
    };
    light: Light;
    reason: string;
  }>;
  unexpanded_macros: Array<{
    dest_id: string | null;
    hits: number;
    with_macros: number;
    share: number | null;
    params: Record<string, number>;
  }>;
  pixels: Array<{
    endpoint: string;
    hits: number;
    invalid_rate: number | null;
    reasons: Array<{ reason: string; count: number }>;
  }>;
}

type DestinationQuality = PlatformMatchQuality & {
  by_event: Record<string, PlatformMatchQuality>;
};

/** The score, per event name, and the two pieces of advice worth the most. */
function qualityCell(q: DestinationQuality): HTMLElement {
  if (q.sample === 0) return h('span', { class: 'muted' }, 'no events');
  const perEvent = Object.entries(q.by_event)
    .map(([name, e]) => `${name} ${e.score}`)
    .join(', ');
  return h(
    'div',
    {},
    h('strong', {}, `${q.score}/10`),
    perEvent ? h('span', { class: 'muted' }, ` (${perEvent})`) : '',
    q.advice.length
      ? h(
          'ul',
          {},
          ...q.advice
            .slice(0, 2)
            .map((a) =>
              h('li', {}, `+${a.gain}: ${a.tip} (${Math.round(a.share * 100)} % have it)`),
            ),
        )
      : '',
  );
}

const TONE = { green: 'ok', amber: 'warn', red: 'bad' } as const;
const pct = (v: number | null) => (v === null ? '—' : `${Math.round(v * 1000) / 10} %`);
const light = (l: Light, reason: string) =>
  h('span', {}, pill(l, TONE[l]), ' ', h('span', { class: 'reason' }, reason));

function table(head: string[], rows: HTMLElement[]): HTMLElement {
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: 'grid' },
      h('thead', {}, h('tr', {}, ...head.map((c) => h('th', {}, c)))),
      h('tbody', {}, ...rows),
    ),
  );
}

/** "12.5 % (imp_id: 3, campaign_id: 1)": the share of hits with macros, and where they were. */
function macroCell(share: number | null, params: Record<string, number>): string {
  const where = Object.entries(params).map(([p, n]) => `${p}: ${n}`);
  if (share === null) return '—';
  return where.length ? `${pct(share)} (${where.join(', ')})` : pct(share);
}

/** Health: per source and destination over 24 h, each with a light and its reason. */
/** Installs flagged by each fraud check (the last 24 h), or a dash when none were. */
function fraudCell(f: Health['destinations'][number]['install_fraud']): string {
  if (f.flagged === 0) return '—';
  const parts = [
    ['injected clicks', f.click_injection],
    ['flooding clicks', f.click_flooding],
    ['suspicious installs', f.suspicious_install],
  ].filter(([, n]) => Number(n) > 0);
  return parts.map(([what, n]) => `${what}: ${n}`).join(', ');
}

export async function healthPage({ env, main }: PageContext): Promise<void> {
  const x = await api<Health>(`/api/health?env_id=${encodeURIComponent(env.id)}`);
  main.append(
    h('p', { class: 'muted' }, 'Last 24 hours. Pixel hit counts are since this process started.'),
    h('h2', {}, 'Sources'),
    x.sources.length
      ? table(
          [
            'Source',
            'State',
            'Last seen',
            'Events (24 h)',
            'Dedup rate',
            'Match quality',
            'Advice',
          ],
          x.sources.map((s) =>
            h(
              'tr',
              { 'data-source': s.source },
              h('td', {}, s.source),
              h('td', {}, light(s.light, s.reason)),
              h('td', {}, time(s.last_seen_ms)),
              h('td', {}, `${s.events.toLocaleString()} (${s.events_per_min}/min)`),
              h('td', {}, pct(s.dedup_rate)),
              h('td', {}, `${s.match_quality.score}/10`),
              h(
                'td',
                {},
                s.match_quality.advice.length
                  ? h('ul', {}, ...s.match_quality.advice.map((a) => h('li', {}, a)))
                  : 'none',
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No events in the last 24 hours.'),
    h(
      'p',
      {},
      `Ad touches (impressions and clicks): ${x.touches.count.toLocaleString()}, last `,
      x.touches.last_seen_ms ? time(x.touches.last_seen_ms) : 'never',
    ),
    h(
      'p',
      {},
      `Visits (landings from search, social, e-mail, links): ${x.visits.count.toLocaleString()}, last `,
      x.visits.last_seen_ms ? time(x.visits.last_seen_ms) : 'never',
    ),
    h('h2', {}, 'Pixels'),
    table(
      ['Endpoint', 'Hits', 'Invalid', 'By reason'],
      x.pixels.map((p) =>
        h(
          'tr',
          {},
          h('td', {}, `/${p.endpoint}`),
          h('td', {}, String(p.hits)),
          h('td', {}, pct(p.invalid_rate)),
          h('td', {}, p.reasons.map((r) => `${r.reason}: ${r.count}`).join(', ') || '—'),
        ),
      ),
    ),
    h('h2', {}, 'Destinations'),
    table(
      [
        'Destination',
        'State',
        'Conversions',
        'Match rate',
        'Delivery success',
        'Backlog',
        'Dead',
        'Unexpanded macros',
        'Install fraud',
        'Match quality (what the platform receives)',
      ],
      x.destinations.map((d) =>
        h(
          'tr',
          { 'data-dest': d.dest_id },
          h('td', {}, `${d.dest_id} (${d.type})`),
          h('td', {}, light(d.light, d.reason)),
          h('td', {}, String(d.conversions)),
          h('td', {}, pct(d.match_rate)),
          h('td', {}, pct(d.success_rate)),
          h('td', {}, String(d.backlog)),
          h('td', {}, String(d.dead)),
          h(
            'td',
            { class: 'macros', title: `of ${d.pixel_hits} pixel and click hits` },
            macroCell(d.unexpanded_macro_share, d.unexpanded_macro_params),
          ),
          h('td', { class: 'install-fraud' }, fraudCell(d.install_fraud)),
          h('td', { class: 'quality' }, qualityCell(d.match_quality)),
        ),
      ),
    ),
    ...x.unexpanded_macros
      .filter((m) => m.dest_id === null && m.with_macros > 0)
      .map((m) =>
        h(
          'p',
          { class: 'macros-without-destination' },
          `Event pixels naming no destination: ${macroCell(m.share, m.params)} of ${m.hits} ` +
            'hits carry unexpanded macros.',
        ),
      ),
  );
}
