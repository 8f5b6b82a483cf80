import type { AttributionExplanation } from '../../domain/attribution-explain.js';
import type { LiveItem } from '../../ingest/live-bus.js';
import type { ConversionRecord, EventTrail, StoredEvent } from '../../store/store.js';
import { api, qs } from '../api.js';
import { h, pill, time } from '../dom.js';
import type { PageContext } from '../page.js';

/** Rows kept on screen; older ones scroll away. */
const MAX_ROWS = 500;

type Trail = Omit<EventTrail, 'conversions'> & {
  diagnostics: string[];
  conversions: Array<ConversionRecord & { explanation: AttributionExplanation | null }>;
};

function keyTable(obj: object): HTMLElement {
  const rows = Object.entries(obj).filter(([, v]) => v !== undefined && v !== null);
  if (rows.length === 0) return h('p', { class: 'muted' }, 'none');
  return h(
    'table',
    { class: 'kv' },
    h(
      'tbody',
      {},
      ...rows.map(([k, v]) =>
        h(
          'tr',
          {},
          h('th', {}, k),
          h('td', {}, typeof v === 'object' ? JSON.stringify(v) : String(v)),
        ),
      ),
    ),
  );
}

function conversionView(c: Trail['conversions'][number]): HTMLElement {
  const a = c.attribution;
  const head = a
    ? h(
        'p',
        {},
        pill(`${a.type}-through`, 'ok'),
        ` ${c.dest_id}: ${a.type === 'click' ? `click ${a.click_id}` : `impression ${a.imp_id}`}`,
        ` · campaign ${a.campaign_id ?? '—'} · via ${a.match_key} (${a.match_type})`,
        ` · ${a.window} window`,
      )
    : h(
        'p',
        {},
        pill('not attributed', 'warn'),
        ` ${c.dest_id}: `,
        h('strong', { class: 'why' }, c.explanation?.summary ?? c.reason ?? ''),
      );
  const x = c.explanation;
  const keys = x
    ? h(
        'ul',
        { class: 'touches' },
        ...x.by_key.map((k) =>
          h(
            'li',
            {},
            h('strong', {}, k.match_key),
            h('ul', {}, ...k.touches.map((t) => h('li', { class: `v-${t.verdict}` }, t.message))),
          ),
        ),
      )
    : null;
  const passed =
    x && x.passed_over.length > 0
      ? h(
          'div',
          {},
          h('p', {}, 'Passed over:'),
          h('ul', { class: 'passed-over' }, ...x.passed_over.map((p) => h('li', {}, p.reason))),
        )
      : null;
  const advice =
    x && x.missing_keys.length > 0
      ? h('p', { class: 'muted' }, `Keys this event lacked: ${x.missing_keys.join(', ')}`)
      : null;
  // Install fraud checks that fired (issue 25), as recorded at ingest: why a click was barred
  // is in the touches above; why the install looked sent by no phone, here.
  const suspicious = c.fraud_verdicts?.suspicious;
  const fraud = c.fraud?.length
    ? h(
        'p',
        { class: 'fraud' },
        pill(`install fraud: ${c.fraud.join(', ')}`, 'warn'),
        suspicious ? ` ${suspicious}` : null,
      )
    : null;
  return h('div', { class: 'conversion' }, head, fraud, passed, keys, advice);
}

function trailView(t: Trail): HTMLElement {
  const e = t.event.event;
  return h(
    'div',
    { class: 'detail' },
    h('h3', {}, 'Warnings'),
    t.diagnostics.length
      ? h('ul', {}, ...t.diagnostics.map((d) => h('li', { class: 'warn-text' }, d)))
      : h('p', { class: 'muted' }, 'none'),
    h('h3', {}, 'Duplicates'),
    h(
      'p',
      {},
      t.event.duplicate_count
        ? `${t.event.duplicate_count} later cop${t.event.duplicate_count === 1 ? 'y' : 'ies'} of ${e.event_name} ${e.event_id} merged into this one (${t.event.pk})`
        : 'none',
    ),
    h('h3', {}, 'Identity keys'),
    keyTable(e.user),
    h('h3', {}, 'Properties'),
    keyTable({ ...e.properties, consent_ads: e.consent.ads, test_code: e.test_code }),
    h('h3', {}, 'Attribution'),
    t.conversions.length
      ? h('div', {}, ...t.conversions.map(conversionView))
      : h('p', { class: 'muted' }, 'not a conversion event for any destination'),
    h('h3', {}, 'Deliveries'),
    t.deliveries.length
      ? h(
          'ul',
          {},
          ...t.deliveries.map((d) =>
            h(
              'li',
              {},
              `#${d.outbox.id} → ${d.outbox.dest_id}: `,
              pill(
                d.outbox.status,
                d.outbox.status === 'delivered' ? 'ok' : d.outbox.status === 'pending' ? '' : 'bad',
              ),
              ` ${d.attempts.length} attempt(s)`,
              ...d.attempts.map((a) => ` · ${a.status_code ?? a.error ?? ''} ${a.verdict}`),
            ),
          ),
        )
      : h('p', { class: 'muted' }, e.test_code ? 'none: test mode' : 'none'),
  );
}

interface Row {
  at_ms: number;
  source: string;
  name: string;
  id: string;
  flags: HTMLElement[];
  pk?: string;
  touch?: object;
}

function rowOf(item: LiveItem): Row {
  if (item.type === 'touch') {
    const t = item.touch;
    return {
      at_ms: item.at_ms,
      source: 'pixel',
      name: t.kind,
      id: t.touch_id,
      flags: [pill(`${t.dest_id ?? '—'} / ${t.campaign_id ?? '—'}`)],
      touch: t,
    };
  }
  if (item.type === 'view') {
    // What the viewability tag measured of an impression (issue 24).
    const v = item.view;
    const share = v.max_share === null ? '' : ` · ${Math.round(v.max_share * 100)} % in view`;
    const verdict = v.viewable
      ? `viewable after ${((v.time_to_view_ms ?? 0) / 1000).toFixed(1)} s${share}`
      : v.measurable
        ? `not viewable${share}`
        : 'not measurable';
    return {
      at_ms: item.at_ms,
      source: 'pixel',
      name: 'view',
      id: v.imp_id,
      flags: [pill(`${v.dest_id ?? '—'} / ${verdict}`)],
      touch: v,
    };
  }
  return eventRow(
    item.pk,
    item.at_ms,
    item.event,
    item.diagnostics,
    item.duplicate,
    item.conversions,
  );
}

function eventRow(
  pk: string,
  at_ms: number,
  e: StoredEvent['event'],
  diagnostics: string[],
  duplicate: boolean,
  conversions: number,
): Row {
  const warnings = diagnostics.filter((d) => !d.startsWith('test mode'));
  return {
    at_ms,
    source: e.source,
    name: e.event_name,
    id: e.event_id,
    pk,
    flags: [
      duplicate ? pill('duplicate', 'warn') : null,
      e.test_code ? pill(`test ${e.test_code}`) : null,
      warnings.length
        ? pill(`${warnings.length} warning${warnings.length > 1 ? 's' : ''}`, 'warn')
        : null,
      conversions ? pill(`${conversions} conversion${conversions > 1 ? 's' : ''}`, 'ok') : null,
    ].filter((x): x is HTMLElement => x !== null),
  };
}

/** Live debugger: events as they commit, filterable, each expandable to its whole trail. */
export async function debuggerPage({ env, main, signal }: PageContext): Promise<void> {
  const source = h(
    'select',
    { id: 'f-source' },
    ...['', 'pixel', 'tag', 'server'].map((s) => h('option', { value: s }, s || 'all sources')),
  );
  const name = h('input', { id: 'f-name', placeholder: 'Purchase' });
  const code = h('input', { id: 'f-test', placeholder: 'TEST123' });
  const status = h('span', { class: 'muted', role: 'status' }, 'connecting…');
  const body = h('tbody', {});
  const table = h(
    'table',
    { class: 'grid live' },
    h(
      'thead',
      {},
      h('tr', {}, ...['', 'Time', 'Source', 'Event', 'ID', ''].map((c) => h('th', {}, c))),
    ),
    body,
  );
  let stream: EventSource | null = null;

  const addRow = (r: Row, top: boolean) => {
    const detail = h('tr', { class: 'detail-row', hidden: true }, h('td', { colspan: 6 }));
    const toggle = h(
      'button',
      { type: 'button', class: 'small', 'aria-expanded': 'false' },
      'Details',
    );
    toggle.addEventListener('click', async () => {
      const open = detail.hidden;
      detail.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      if (!open) return;
      const cell = detail.firstElementChild as HTMLElement;
      if (r.touch) return void cell.replaceChildren(keyTable(r.touch));
      cell.replaceChildren(h('p', { class: 'muted' }, 'loading…'));
      try {
        cell.replaceChildren(
          trailView(await api<Trail>(`/api/events/${encodeURIComponent(r.pk ?? '')}`)),
        );
      } catch (e) {
        cell.replaceChildren(h('p', { class: 'error' }, (e as Error).message));
      }
    });
    const tr = h(
      'tr',
      { 'data-name': r.name, 'data-id': r.id },
      h('td', {}, toggle),
      h('td', {}, time(r.at_ms)),
      h('td', {}, r.source),
      h('td', {}, r.name),
      h('td', { class: 'id' }, r.id),
      h('td', {}, ...r.flags),
    );
    if (top) body.prepend(tr, detail);
    else body.append(tr, detail);
    while (body.rows.length > MAX_ROWS * 2) body.lastElementChild?.remove();
  };

  const connect = async () => {
    stream?.close();
    body.replaceChildren();
    const filter = {
      env_id: env.id,
      source: source.value,
      event_name: name.value.trim(),
      test_code: code.value.trim(),
    };
    const recent = await api<{ events: Array<StoredEvent & { diagnostics: string[] }> }>(
      `/api/events?${qs({ ...filter, limit: 50 })}`,
    );
    for (const e of recent.events)
      addRow(eventRow(e.pk, e.received_at_ms, e.event, e.diagnostics, false, 0), false);
    stream = new EventSource(`/api/live?${qs(filter)}`);
    stream.onopen = () => {
      status.textContent = 'live';
    };
    stream.onerror = () => {
      status.textContent = 'reconnecting…';
    };
    const onItem = (ev: MessageEvent) => addRow(rowOf(JSON.parse(ev.data) as LiveItem), true);
    stream.addEventListener('event', onItem);
    stream.addEventListener('touch', onItem);
    stream.addEventListener('view', onItem);
  };
  signal.addEventListener('abort', () => stream?.close());

  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void connect();
      },
    },
    h('label', {}, 'Source ', source),
    h('label', {}, 'Event name ', name),
    h('label', {}, 'Test code ', code),
    h('button', { type: 'submit' }, 'Apply'),
    status,
  );
  main.append(
    h(
      'p',
      { class: 'muted' },
      'Events appear here as they are stored. Send test events with ',
      h('code', {}, '"test_event_code": "TEST123"'),
      ' (pixel: ',
      h('code', {}, '&test_code=TEST123'),
      ') to see them here without delivering them.',
    ),
    form,
    h('div', { class: 'scroll' }, table),
  );
  await connect();
}
