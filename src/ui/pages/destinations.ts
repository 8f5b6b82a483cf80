import { ApiError, api } from '../api.js';
import { h, pill } from '../dom.js';
import { type Destination, type DestinationType, showDestinationForm } from './destination-form.js';

interface TestReport {
  dest_id: string;
  /** Where it went, and whether the platform now counts a real conversion. */
  note: string;
  real_conversion_recorded: boolean;
  refused: string | null;
  request: { method: string; url: string } | null;
  result:
    | { kind: 'response'; status: number; bodyExcerpt: string }
    | { kind: 'network'; error: string }
    | null;
  reading: { verdicts: Array<{ action: string }>; detail: string | null } | null;
}

const SOURCE_LABEL: Record<Destination['source'], string> = {
  file: 'config file',
  store: 'dashboard',
  store_override: 'dashboard (overrides config file)',
};

/** The receiver's answer to a test conversion, in words and in full. */
function testAnswer(r: TestReport): HTMLElement {
  const verdict = r.reading?.verdicts[0]?.action ?? '';
  const line = r.refused
    ? `${r.dest_id}: not sent — ${r.refused}`
    : r.result?.kind === 'response'
      ? `${r.dest_id}: HTTP ${r.result.status} (${verdict})`
      : `${r.dest_id}: ${r.result?.kind === 'network' ? r.result.error : 'no answer'} (${verdict})`;
  const body = r.result?.kind === 'response' ? r.result.bodyExcerpt : '';
  return h(
    'div',
    { class: 'test-answer', 'data-test-answer': r.dest_id },
    h('p', {}, h('strong', {}, line)),
    h('p', { class: r.real_conversion_recorded ? 'error' : 'muted' }, r.note),
    r.request ? h('p', { class: 'muted' }, `${r.request.method} ${r.request.url}`) : null,
    body ? h('pre', { class: 'code', tabindex: 0 }, body) : null,
  );
}

/** Asks before a test that the platform would record as a real conversion. */
function confirmReal(destId: string, message: string, go: () => void): HTMLElement {
  return h(
    'div',
    { class: 'test-answer', 'data-test-answer': destId },
    h('p', {}, message),
    h('button', { type: 'button', class: 'small', onclick: go }, 'Send a real conversion'),
  );
}

/**
 * Destinations of one environment: a list with type, windows, events and state, and a form
 * to add or edit one (its settings fields come from the type's schema; secrets are password
 * fields left empty to keep the stored value), pause, resume, delete and test. Every user
 * string goes in as text (`h` never parses HTML).
 */
export async function destinationsSection(
  envId: string,
  box: HTMLElement,
  message = '',
): Promise<void> {
  const [{ destinations }, { types }] = await Promise.all([
    api<{ destinations: Destination[] }>(`/api/destinations?env_id=${encodeURIComponent(envId)}`),
    api<{ types: DestinationType[] }>('/api/destination-types'),
  ]);
  const msg = h('div', { role: 'status', class: 'muted', id: 'dest-msg' }, message);
  const formBox = h('div', { id: 'dest-form-box' });
  const redraw = (text: string) => destinationsSection(envId, box, text);
  const say = (text: string | Node) => msg.replaceChildren(text);
  const failed = (err: Error) => msg.replaceChildren(h('p', { class: 'error' }, err.message));
  const showForm = (current: Destination | null) =>
    showDestinationForm({ envId, types, formBox, redraw }, current);
  const path = (d: Destination, action = '') =>
    `/api/destinations/${encodeURIComponent(envId)}/${encodeURIComponent(d.id)}${action}`;

  const rows = destinations.map((d) =>
    h(
      'tr',
      { 'data-dest': d.id },
      h('td', {}, d.id),
      h('td', {}, d.type),
      h('td', {}, d.events.join(', ')),
      h(
        'td',
        {},
        `${d.click_window} click / ${d.view_window} view`,
        h(
          'div',
          { class: 'muted' },
          `ip match: ${d.probabilistic_click_window} click / ${d.probabilistic_view_window} view`,
        ),
        ...d.notes.map((n) => h('div', { class: 'warn-text' }, n)),
      ),
      h('td', {}, SOURCE_LABEL[d.source]),
      h(
        'td',
        {},
        d.paused ? pill(`paused: ${d.paused_reason ?? ''}`, 'bad') : pill('active', 'ok'),
        d.test_mode ? pill('test mode', 'warn') : null,
      ),
      h(
        'td',
        { class: 'actions' },
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            onclick: () => {
              showForm(d);
            },
          },
          'Edit',
        ),
        ' ',
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            onclick: () =>
              api(path(d, d.paused ? '/resume' : '/pause'), 'POST').then(
                () => redraw(`${d.id} ${d.paused ? 'resumed' : 'paused'}.`),
                failed,
              ),
          },
          d.paused ? 'Resume' : 'Pause',
        ),
        ' ',
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            onclick: () => {
              say(`Sending a test conversion to ${d.id}…`);
              // A platform without a test channel answers 409: sending records a real one.
              const send = (real: boolean) =>
                api<TestReport>(path(d, real ? '/test?confirm=real' : '/test'), 'POST').then(
                  (r) => say(testAnswer(r)),
                  (err: Error) =>
                    err instanceof ApiError && err.status === 409 && !real
                      ? say(confirmReal(d.id, err.message, () => send(true)))
                      : failed(err),
                );
              void send(false);
            },
          },
          'Send test conversion',
        ),
        ' ',
        d.source === 'store_override'
          ? h(
              'button',
              {
                type: 'button',
                class: 'small',
                onclick: () =>
                  api(path(d, '/revert'), 'POST').then(
                    () => redraw(`${d.id} is back to the config file’s settings.`),
                    failed,
                  ),
              },
              'Revert to config file',
            )
          : null,
        ' ',
        h(
          'button',
          {
            type: 'button',
            class: 'small danger',
            onclick: () => {
              if (!window.confirm(`Delete destination ${d.id}? Its queued deliveries stop.`))
                return;
              api(path(d), 'DELETE').then(() => redraw(`${d.id} deleted.`), failed);
            },
          },
          'Delete',
        ),
      ),
    ),
  );

  box.replaceChildren(
    h('h2', {}, 'Destinations'),
    h(
      'p',
      { class: 'muted' },
      'Destinations from the config file and those added here are used alike; an edit made here ' +
        'overrides the file’s and applies at once, without a restart.',
    ),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'grid', id: 'dest-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['ID', 'Type', 'Events', 'Windows', 'Defined in', 'State', ''].map((c) =>
              h('th', { scope: 'col' }, c),
            ),
          ),
        ),
        h('tbody', {}, ...rows),
      ),
    ),
    h(
      'p',
      {},
      h(
        'button',
        { type: 'button', id: 'dest-add', onclick: () => showForm(null) },
        'Add destination',
      ),
    ),
    formBox,
    msg,
  );
}
