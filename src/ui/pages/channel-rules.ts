import { ApiError, api } from '../api.js';
import { h } from '../dom.js';

interface Condition {
  source?: string[];
  medium?: string[];
  campaign?: string[];
  source_category?: string[];
  click_id?: string[];
  touch?: string[];
}
interface Rule extends Condition {
  channel: string;
  any?: Condition[];
}
interface Settings {
  rules: Rule[];
  ignored_referrers: string[];
  source: 'api' | 'file' | 'default';
}
interface Classified {
  visit: boolean;
  why: string;
  channel: string | null;
  source_medium?: string;
}

/** A condition in words: `medium is cpc, ppc · source is a search site`. */
function describe(c: Condition): string {
  const parts: string[] = [];
  const list = (name: string, v?: string[]) => v && parts.push(`${name} is ${v.join(', ')}`);
  list('source', c.source);
  list('medium', c.medium);
  list('campaign', c.campaign);
  list('click id', c.click_id);
  list('touch', c.touch);
  if (c.source_category) parts.push(`source is a ${c.source_category.join(' or ')} site`);
  return parts.join(' and ');
}

function rulesTable(rules: Rule[]): HTMLElement {
  return h(
    'table',
    { class: 'grid', id: 'ch-rules' },
    h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Channel'), h('th', {}, 'When'))),
    h(
      'tbody',
      {},
      ...rules.map((r, i) => {
        const own = describe(r);
        const any = r.any?.map(describe).join(' — or — ');
        const when = [own, any ? `(${any})` : ''].filter(Boolean).join(' and ');
        return h(
          'tr',
          {},
          h('td', {}, String(i + 1)),
          h('th', { scope: 'row' }, r.channel),
          h('td', {}, when || 'always'),
        );
      }),
      h(
        'tr',
        {},
        h('td', {}, '—'),
        h('th', { scope: 'row' }, 'Unassigned'),
        h('td', {}, 'no rule holds'),
      ),
    ),
  );
}

/**
 * The environment's channel rules (first that holds names the channel), where they come from,
 * an editor (JSON, each bad field named by the API), and a box to test a landing URL.
 */
export async function channelRulesSection(
  envId: string,
  reload: () => Promise<void>,
): Promise<HTMLElement> {
  const path = `/api/environments/${encodeURIComponent(envId)}/channels`;
  const box = h('section', { id: 'ch-rules-box' });
  const draw = async () => {
    const s = await api<Settings>(path);
    const editor = h('textarea', { id: 'ch-rules-json', rows: 12, spellcheck: false });
    editor.value = JSON.stringify(
      { rules: s.rules, ignored_referrers: s.ignored_referrers },
      null,
      2,
    );
    const msg = h('div', { role: 'status', id: 'ch-rules-msg' });
    const save = h('button', { type: 'submit' }, 'Save rules');
    const reset = h(
      'button',
      {
        type: 'button',
        onclick: () => {
          void api(path, 'DELETE').then(async () => {
            await draw();
            await reload();
          });
        },
      },
      s.source === 'api' ? 'Back to the config file’s rules' : 'Reset',
    );
    const form = h(
      'form',
      {
        class: 'import',
        onsubmit: (e: Event) => {
          e.preventDefault();
          let body: unknown;
          try {
            body = JSON.parse(editor.value);
          } catch (err) {
            msg.replaceChildren(
              h('p', { class: 'error', role: 'alert' }, `Not JSON: ${(err as Error).message}`),
            );
            return;
          }
          api(path, 'PUT', body).then(
            async () => {
              await draw();
              await reload();
            },
            (err: Error) =>
              msg.replaceChildren(
                h('p', { class: 'error', role: 'alert' }, 'Not saved:'),
                h(
                  'ul',
                  {},
                  ...(err instanceof ApiError ? err.fields : []).map((f) =>
                    h('li', {}, `${f.field} ${f.message}`),
                  ),
                ),
              ),
          );
        },
      },
      h(
        'label',
        { for: 'ch-rules-json' },
        'Rules (JSON): channel, and source, medium, campaign, click_id (globs), source_category, touch, any',
      ),
      editor,
      save,
      reset,
      msg,
    );
    box.replaceChildren(
      h(
        'p',
        { class: 'muted', id: 'ch-rules-source' },
        {
          api: 'Saved through the admin API.',
          file: 'From the config file.',
          default: 'GA4’s default channel group.',
        }[s.source],
        ` Ignored referrers: ${s.ignored_referrers.join(', ') || 'none'}.`,
      ),
      h('div', { class: 'scroll' }, rulesTable(s.rules)),
      form,
    );
  };
  await draw();
  return h('div', {}, box, h('h2', {}, 'Test a landing'), landingTester(envId));
}

function landingTester(envId: string): HTMLElement {
  const url = h('input', {
    id: 'ch-url',
    type: 'url',
    size: 50,
    placeholder: 'https://shop.example/?utm_source=…',
  });
  const referrer = h('input', {
    id: 'ch-ref',
    type: 'url',
    size: 30,
    placeholder: 'https://www.google.com/',
  });
  const out = h('p', { id: 'ch-classified', role: 'status' });
  return h(
    'form',
    {
      class: 'filters',
      onsubmit: (e: Event) => {
        e.preventDefault();
        api<Classified>('/api/channels/classify', 'POST', {
          env_id: envId,
          url: url.value,
          referrer: referrer.value,
        }).then(
          (c) => {
            out.textContent = c.channel
              ? `${c.channel} (${c.source_medium}): ${c.why}`
              : `No visit: ${c.why}`;
          },
          (err: Error) => {
            out.textContent = err.message;
          },
        );
      },
    },
    h('label', {}, 'Landing URL ', url),
    h('label', {}, 'Referrer ', referrer),
    h('button', { type: 'submit' }, 'Classify'),
    out,
  );
}
