import { ApiError, api } from '../api.js';
import { h } from '../dom.js';

// The add/edit form of the Setup page's destinations section (destinations.ts): its settings
// fields come from the type's schema; secrets are password fields left empty to keep the
// stored value; the server's field errors mark the inputs they name.

/** One destination as `GET /api/destinations` shows it (secrets as ****). */
export interface Destination {
  env_id: string;
  id: string;
  type: string;
  source: 'file' | 'store' | 'store_override';
  events: string[];
  click_window: string;
  view_window: string;
  probabilistic_click_window: string;
  probabilistic_view_window: string;
  /** What the server changed of the settings as given (a window clamped…). */
  notes: string[];
  attributed_only: boolean;
  /** `/c` adds the click id to the landing URL of this destination's links. */
  append_click_id: boolean | 'auto';
  merge_window: string;
  test_mode: boolean;
  base_url: string | null;
  settings: Record<string, unknown>;
  paused: boolean;
  paused_reason: string | null;
}

interface TypeField {
  name: string;
  kind: string;
  secret: boolean;
  required: boolean;
  description: string;
  options?: string[];
}

export interface DestinationType {
  type: string;
  fields: TypeField[];
}

/** Where the form is drawn and what it redraws after a save. */
export interface FormPlace {
  envId: string;
  types: DestinationType[];
  formBox: HTMLElement;
  redraw: (message: string) => Promise<void>;
}

const list = (text: string) =>
  text
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

export function showDestinationForm(
  { envId, types, formBox, redraw }: FormPlace,
  current: Destination | null,
): void {
  const fieldErrors = h('ul', { class: 'error', role: 'alert', id: 'dest-errors' });
  const id = h('input', {
    id: 'd-id',
    name: 'id',
    required: true,
    pattern: '[A-Za-z0-9_.\\-]{1,64}',
    value: current?.id ?? '',
    readonly: !!current,
  });
  const type = h(
    'select',
    { id: 'd-type', name: 'type' },
    ...types.map((t) => h('option', { value: t.type, selected: t.type === current?.type }, t.type)),
  );
  const events = h('input', {
    id: 'd-events',
    name: 'events',
    value: (current?.events ?? ['Purchase']).join(', '),
  });
  const click = h('input', {
    id: 'd-click',
    name: 'click_window',
    value: current?.click_window ?? '7d',
    size: 6,
  });
  const view = h('input', {
    id: 'd-view',
    name: 'view_window',
    value: current?.view_window ?? '1d',
    size: 6,
  });
  const probClick = h('input', {
    id: 'd-pclick',
    name: 'probabilistic_click_window',
    value: current?.probabilistic_click_window ?? '1d',
    size: 6,
  });
  const probView = h('input', {
    id: 'd-pview',
    name: 'probabilistic_view_window',
    value: current?.probabilistic_view_window ?? '1d',
    size: 6,
  });
  const merge = h('input', {
    id: 'd-merge',
    name: 'merge_window',
    value: current?.merge_window ?? 'auto',
    size: 6,
  });
  const attributedOnly = h('input', {
    id: 'd-attributed',
    type: 'checkbox',
    checked: current ? current.attributed_only : true,
  });
  const testMode = h('input', { id: 'd-test', type: 'checkbox', checked: !!current?.test_mode });
  const appendWas = String(current?.append_click_id ?? 'auto');
  const appendClickId = h(
    'select',
    { id: 'd-append', name: 'append_click_id' },
    ...[
      ['auto', 'where our tag runs (its allowed origins)'],
      ['true', 'always'],
      ['false', 'never'],
    ].map(([v, label]) => h('option', { value: v, selected: v === appendWas }, label)),
  );
  const baseUrl = h('input', {
    id: 'd-base',
    name: 'base_url',
    type: 'url',
    value: current?.base_url ?? '',
    placeholder: 'the platform’s own',
  });
  const settingsBox = h('fieldset', { class: 'settings' });
  let inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  const drawSettings = () => {
    const t = types.find((x) => x.type === type.value);
    const same = current?.type === type.value;
    inputs = new Map();
    settingsBox.replaceChildren(h('legend', {}, `${type.value} settings`));
    for (const f of t?.fields ?? []) {
      const was = same ? current?.settings[f.name] : undefined;
      const inputId = `d-s-${f.name}`;
      const input = f.options
        ? h(
            'select',
            { id: inputId, name: f.name },
            h('option', { value: '' }, '(default)'),
            ...f.options.map((o) => h('option', { value: o, selected: o === was }, o)),
          )
        : h('input', {
            id: inputId,
            name: f.name,
            type: f.secret ? 'password' : 'text',
            autocomplete: f.secret ? 'new-password' : 'off',
            // A stored secret is never sent to the browser: empty keeps it.
            value: f.secret || was === undefined ? '' : String(was),
            placeholder: f.secret && was !== undefined ? 'unchanged' : '',
            required: f.required && !(f.secret && was !== undefined),
          });
      inputs.set(f.name, input);
      settingsBox.append(
        h(
          'label',
          { for: inputId },
          `${f.name}${f.required ? ' *' : ''}`,
          h('span', { class: 'muted' }, f.description ? ` — ${f.description}` : ''),
        ),
        input,
      );
    }
  };
  type.addEventListener('change', drawSettings);
  drawSettings();

  const field = (label: string, input: HTMLElement, forId: string) =>
    h('label', { for: forId }, label, input);
  const form = h(
    'form',
    {
      id: 'dest-form',
      class: 'dest-form',
      'aria-labelledby': 'dest-form-title',
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const settings: Record<string, unknown> = {};
        for (const [name, input] of inputs) {
          if (input.value !== '') settings[name] = input.value;
        }
        const body: Record<string, unknown> = {
          events: list(events.value),
          click_window: click.value.trim(),
          view_window: view.value.trim(),
          probabilistic_click_window: probClick.value.trim(),
          probabilistic_view_window: probView.value.trim(),
          merge_window: merge.value.trim(),
          attributed_only: attributedOnly.checked,
          test_mode: testMode.checked,
          append_click_id: appendClickId.value === 'auto' ? 'auto' : appendClickId.value === 'true',
          settings,
        };
        if (baseUrl.value.trim() !== '') body.base_url = baseUrl.value.trim();
        const done = (d: Destination) => redraw(`${d.id} ${current ? 'saved' : 'created'}.`);
        const showErrors = (err: Error) => {
          const fs = err instanceof ApiError ? err.fields : [];
          for (const el of Array.from(form.querySelectorAll('[aria-invalid]')))
            el.removeAttribute('aria-invalid');
          for (const f of fs) {
            const name = f.field.replace(/^settings\./, '');
            const el = f.field.startsWith('settings.')
              ? inputs.get(name)
              : form.querySelector(`[name="${CSS.escape(f.field.split('.')[0])}"]`);
            el?.setAttribute('aria-invalid', 'true');
          }
          fieldErrors.replaceChildren(
            ...(fs.length > 0
              ? fs.map((f) => h('li', {}, `${f.field}: ${f.message}`))
              : [h('li', {}, err.message)]),
          );
        };
        if (current) {
          if (type.value !== current.type) body.type = type.value;
          api<Destination>(
            `/api/destinations/${encodeURIComponent(envId)}/${encodeURIComponent(current.id)}`,
            'PATCH',
            body,
          ).then(done, showErrors);
        } else {
          api<Destination>('/api/destinations', 'POST', {
            env_id: envId,
            id: id.value.trim(),
            type: type.value,
            ...body,
          }).then(done, showErrors);
        }
      },
    },
    h(
      'h3',
      { id: 'dest-form-title' },
      current ? `Edit destination ${current.id}` : 'Add a destination',
    ),
    h(
      'div',
      { class: 'filters' },
      field('ID ', id, 'd-id'),
      field('Type ', type, 'd-type'),
      field('Events (comma-separated) ', events, 'd-events'),
      field('Click window ', click, 'd-click'),
      field('View window ', view, 'd-view'),
      // Labels that do not contain "click window" or "view window", which name the fields above.
      field('IP-match window for clicks (at most the click one) ', probClick, 'd-pclick'),
      field('IP-match window for views (at most the view one) ', probView, 'd-pview'),
      field('Merge window ', merge, 'd-merge'),
      field('API base URL ', baseUrl, 'd-base'),
    ),
    h(
      'div',
      { class: 'filters' },
      h('label', { class: 'check', for: 'd-attributed' }, attributedOnly, ' Attributed only'),
      h('label', { class: 'check', for: 'd-test' }, testMode, ' Platform test mode'),
      field('Add the click id to landing URLs ', appendClickId, 'd-append'),
    ),
    settingsBox,
    fieldErrors,
    h(
      'div',
      { class: 'filters' },
      h('button', { type: 'submit' }, current ? 'Save' : 'Create destination'),
      h(
        'button',
        { type: 'button', class: 'small', onclick: () => formBox.replaceChildren() },
        'Cancel',
      ),
    ),
  );
  formBox.replaceChildren(form);
  (current ? events : id).focus();
}
