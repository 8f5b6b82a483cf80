type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

/** Creates an element: `h('button', {onclick: f, class: 'x'}, 'Retry')`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Local time of a Unix-ms instant, to the second. */
export function time(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { hour12: false });
}

/** A snippet with a copy button. */
export function snippet(label: string, text: string): HTMLElement {
  const pre = h('pre', { class: 'code', tabindex: 0 }, text);
  const copy = h(
    'button',
    {
      type: 'button',
      class: 'small',
      onclick: () => {
        void navigator.clipboard?.writeText(text).then(
          () => {
            copy.textContent = 'Copied';
          },
          () => {
            copy.textContent = 'Select and copy';
          },
        );
      },
    },
    'Copy',
  );
  return h('section', { class: 'snippet' }, h('h3', {}, label, ' ', copy), pre);
}

/** A status pill: ok (green), warn (amber), bad (red), or plain. */
export function pill(text: string, tone: 'ok' | 'warn' | 'bad' | '' = ''): HTMLElement {
  return h('span', { class: `pill ${tone}` }, text);
}
