import type { AttemptRecord, OutboxRecord } from '../../store/store.js';
import { api, qs } from '../api.js';
import { h, pill, time } from '../dom.js';
import type { PageContext } from '../page.js';

const tone = (s: string) => (s === 'delivered' ? 'ok' : s === 'pending' ? '' : 'bad');

function attemptsView(attempts: AttemptRecord[]): HTMLElement {
  if (attempts.length === 0) return h('p', { class: 'muted' }, 'no attempt yet');
  return h(
    'table',
    { class: 'grid' },
    h(
      'thead',
      {},
      h('tr', {}, ...['Time', 'Status', 'Verdict', 'ms', 'Response'].map((c) => h('th', {}, c))),
    ),
    h(
      'tbody',
      {},
      ...attempts.map((a) =>
        h(
          'tr',
          {},
          h('td', {}, time(a.at_ms)),
          h('td', {}, String(a.status_code ?? a.error ?? '')),
          h('td', {}, a.verdict),
          h('td', {}, String(a.duration_ms)),
          h('td', {}, h('code', { class: 'excerpt' }, a.response_excerpt ?? a.error ?? '')),
        ),
      ),
    ),
  );
}

/** Deliveries: the outbox with attempts, retry, the dead-letter queue, replay, paused destinations. */
export async function deliveriesPage({ env, main }: PageContext): Promise<void> {
  const status = h(
    'select',
    { id: 'd-status' },
    ...[
      ['', 'all'],
      ['pending', 'pending'],
      ['delivered', 'delivered'],
      ['failed', 'failed'],
      ['dead', 'dead letters'],
    ].map(([v, t]) => h('option', { value: v }, t)),
  );
  const body = h('tbody', {});
  const msg = h('p', { role: 'status', class: 'muted' });

  const load = async () => {
    const { deliveries } = await api<{ deliveries: OutboxRecord[] }>(
      `/api/deliveries?${qs({ env_id: env.id, status: status.value, limit: 200 })}`,
    );
    body.replaceChildren();
    if (deliveries.length === 0)
      body.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'no deliveries')));
    for (const d of deliveries) {
      const detail = h('tr', { hidden: true }, h('td', { colspan: 8 }));
      const show = h(
        'button',
        { type: 'button', class: 'small', 'aria-expanded': 'false' },
        'Attempts',
      );
      show.addEventListener('click', async () => {
        detail.hidden = !detail.hidden;
        show.setAttribute('aria-expanded', String(!detail.hidden));
        if (detail.hidden) return;
        const full = await api<{ attempts: AttemptRecord[] }>(`/api/deliveries/${d.id}`);
        (detail.firstElementChild as HTMLElement).replaceChildren(attemptsView(full.attempts));
      });
      const retry =
        d.status === 'dead' || d.status === 'failed'
          ? h(
              'button',
              {
                type: 'button',
                class: 'small',
                'data-retry': d.id,
                onclick: () =>
                  api(`/api/deliveries/${d.id}/retry`, 'POST').then(
                    () => {
                      msg.textContent = `Delivery ${d.id} queued again.`;
                      return load();
                    },
                    (e: Error) => {
                      msg.textContent = e.message;
                    },
                  ),
              },
              'Retry',
            )
          : null;
      body.append(
        h(
          'tr',
          { 'data-delivery': d.id },
          h('td', {}, show),
          h('td', {}, String(d.id)),
          h('td', { class: 'id' }, d.conversion_id),
          h('td', {}, d.dest_id),
          h('td', {}, pill(d.status, tone(d.status))),
          h('td', {}, String(d.attempts)),
          h('td', {}, `${d.last_status ?? ''} ${d.last_error ?? ''}`.trim() || '—'),
          h('td', {}, retry),
        ),
        detail,
      );
    }
  };

  const replayDest = h(
    'select',
    { id: 'rp-dest' },
    ...env.destinations.map((d) => h('option', { value: d.id }, d.id)),
  );
  const replayFrom = h('input', { type: 'datetime-local', id: 'rp-from', required: true });
  const replayTo = h('input', { type: 'datetime-local', id: 'rp-to', required: true });
  const replayForm = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e: Event) => {
        e.preventDefault();
        api<{ queued: number }>('/api/replay', 'POST', {
          env_id: env.id,
          dest_id: replayDest.value,
          from: new Date(replayFrom.value).toISOString(),
          to: new Date(replayTo.value).toISOString(),
        }).then(
          (r) => {
            msg.textContent = `${r.queued} conversion(s) queued for ${replayDest.value}.`;
            return load();
          },
          (err: Error) => {
            msg.textContent = err.message;
          },
        );
      },
    },
    h('label', {}, 'Destination ', replayDest),
    h('label', {}, 'From ', replayFrom),
    h('label', {}, 'To ', replayTo),
    h('button', { type: 'submit' }, 'Replay'),
  );

  const paused = env.destinations.filter((d) => d.paused);
  main.append(
    paused.length
      ? h(
          'div',
          { class: 'banner bad' },
          ...paused.map((d) =>
            h('p', {}, `${d.id} is paused: ${d.paused_reason ?? ''}. Resume it on the Setup page.`),
          ),
        )
      : '',
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void load();
        },
      },
      h('label', {}, 'Status ', status),
      h('button', { type: 'submit' }, 'Show'),
    ),
    msg,
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'grid', id: 'deliveries' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['', '#', 'Conversion', 'Destination', 'Status', 'Attempts', 'Last answer', ''].map(
              (c) => h('th', {}, c),
            ),
          ),
        ),
        body,
      ),
    ),
    h('h2', {}, 'Replay'),
    h(
      'p',
      { class: 'muted' },
      'Send again the attributed conversions created in a time range to one destination.',
    ),
    replayForm,
  );
  await load();
}
