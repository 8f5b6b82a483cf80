import { qs, upload } from '../api.js';
import { h } from '../dom.js';
import type { PageContext } from '../page.js';

interface ImportAnswer {
  rows: number;
  accepted: number;
  duplicates: number;
  refused_rows: number;
  error?: { message: string };
  errors: Array<{ line: number; field: string; message: string }>;
}

/** Rows of the error table shown; the download has all of them. */
const SHOWN_ERRORS = 50;
const ACTION_SOURCES = ['physical_store', 'system_generated', 'phone_call', 'website', 'other'];

function errorCsv(errors: ImportAnswer['errors']): string {
  const cell = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return `line,field,message\n${errors
    .map((e) => `${[String(e.line), e.field, e.message].map(cell).join(',')}\n`)
    .join('')}`;
}

function result(x: ImportAnswer): HTMLElement {
  const download = h('a', { download: 'import-errors.csv' }, 'Download the error report');
  download.setAttribute(
    'href',
    URL.createObjectURL(new Blob([errorCsv(x.errors)], { type: 'text/csv' })),
  );
  return h(
    'div',
    { class: 'import-result', role: 'status' },
    x.error ? h('p', { class: 'error' }, x.error.message) : null,
    h(
      'p',
      {},
      `${x.rows} rows: ${x.accepted} imported, ${x.duplicates} already there, ${x.refused_rows} refused.`,
    ),
    x.errors.length
      ? h(
          'div',
          {},
          download,
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
              ...x.errors
                .slice(0, SHOWN_ERRORS)
                .map((e) =>
                  h(
                    'tr',
                    {},
                    h('td', {}, String(e.line)),
                    h('td', {}, e.field),
                    h('td', {}, e.message),
                  ),
                ),
            ),
          ),
        )
      : null,
  );
}

/** Import: offline conversions from a CSV file (docs/offline-conversions.md). */
export async function importsPage({ env, main }: PageContext): Promise<void> {
  const file = h('input', {
    id: 'import-file',
    type: 'file',
    accept: '.csv,text/csv',
    required: true,
  });
  const eventName = h('input', { id: 'import-event', value: 'Purchase', required: true });
  const source = h(
    'select',
    { id: 'import-source' },
    ...ACTION_SOURCES.map((s) => h('option', { value: s }, s)),
  );
  const out = h('div', {});
  const button = h('button', { type: 'submit' }, 'Import');
  const form = h(
    'form',
    {
      class: 'import',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const chosen = file.files?.[0];
        if (!chosen) return;
        button.disabled = true;
        out.replaceChildren(h('p', { class: 'muted' }, `Importing ${chosen.name}…`));
        const query = qs({
          env_id: env.id,
          event_name: eventName.value,
          action_source: source.value,
        });
        upload<ImportAnswer>(`/api/imports?${query}`, chosen, 'text/csv')
          .then(
            (x) => out.replaceChildren(result(x)),
            (err: Error) =>
              out.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message)),
          )
          .finally(() => {
            button.disabled = false;
          });
      },
    },
    h(
      'p',
      { class: 'muted' },
      'One conversion a row: order_id, time, value, currency, email, phone, click ids, user_id. ',
      'Importing the same file again adds nothing.',
    ),
    h('label', { for: 'import-file' }, 'CSV file'),
    file,
    h('label', { for: 'import-event' }, 'Event name (rows without event_name)'),
    eventName,
    h('label', { for: 'import-source' }, 'Where the sales happened (action_source)'),
    source,
    button,
  );
  main.append(form, out);
}
