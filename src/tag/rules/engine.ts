/**
 * The codeless-trigger engine, served as `/rules.js` after `window.__ptr = [rules]`: fires
 * `pixeltrail('track', …)` when the page URL matches, an element is clicked, or the dataLayer
 * receives an event — so a site gets conversions without a deploy. Rules are checked on the
 * server (src/domain/trigger-rules.ts); here they are trusted as served.
 */
import { type TriggerRule, urlMatchesGlob } from '../../domain/trigger-rules.js';

type Entry = Record<string, unknown> | undefined;

interface RulesWindow {
  history?: History;
  addEventListener?: (type: string, listener: () => void) => void;
  __ptr?: TriggerRule[];
  __ptrOn?: boolean;
  dataLayer?: unknown[];
  pixeltrail?: (...args: unknown[]) => void;
}

/** `a.b.c` inside `o`, or undefined. */
function at(o: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      o,
    );
}

/** The latest value at `path` in the triggering entry, else in the dataLayer (GTM's model). */
function lookup(w: RulesWindow, path: string | undefined, entry: Entry): unknown {
  if (!path) return undefined;
  const entries = [...(w.dataLayer || []), entry];
  for (let i = entries.length - 1; i >= 0; i--) {
    const v = at(entries[i], path);
    if (v != null) return v;
  }
  return undefined;
}

function fire(w: RulesWindow, rule: TriggerRule, entry?: Entry): void {
  const props: Record<string, unknown> = { rule_id: rule.id };
  const value = lookup(w, rule.value_path, entry);
  if (value != null) props.value = value;
  const currency = rule.currency || lookup(w, rule.currency_path, entry);
  if (currency) props.currency = currency;
  const id = lookup(w, rule.event_id_path, entry);
  w.pixeltrail?.('track', rule.event_name, props, id != null ? { event_id: String(id) } : {});
}

/** Applies the rules in `w.__ptr`; a second copy of the script does nothing. */
export function applyRules(w: RulesWindow, doc: Document, loc: Location): void {
  const rules = w.__ptr || [];
  if (w.__ptrOn || !rules.length) return;
  w.__ptrOn = true;
  const byType = (type: string) => rules.filter((r) => r.trigger.type === type);

  const urls = byType('url');
  let seen = '';
  const checkUrl = () => {
    // Once per address: single-page apps change it with history.pushState, without a load.
    if (loc.href === seen) return;
    seen = loc.href;
    for (const rule of urls) {
      const pattern = (rule.trigger as { pattern: string }).pattern;
      const here = pattern.includes('://') ? loc.href : loc.pathname + loc.search;
      if (urlMatchesGlob(pattern, here)) fire(w, rule);
    }
  };
  checkUrl();
  if (urls.length && w.history) {
    const h = w.history;
    for (const method of ['pushState', 'replaceState'] as const) {
      const original = h[method];
      h[method] = function (...args: Parameters<History['pushState']>) {
        original.apply(this, args);
        checkUrl();
      };
    }
    w.addEventListener?.('popstate', checkUrl);
  }

  const clicks = byType('click');
  if (clicks.length)
    doc.addEventListener(
      'click',
      (e) => {
        const target = e.target as Element | null;
        for (const rule of clicks) {
          try {
            if (target?.closest?.((rule.trigger as { selector: string }).selector)) fire(w, rule);
          } catch {
            // An invalid selector matches nothing.
          }
        }
      },
      true,
    );

  const pushes = byType('datalayer');
  if (pushes.length) {
    if (!w.dataLayer) w.dataLayer = [];
    const dl = w.dataLayer;
    const handle = (entry: unknown) => {
      const name = (entry as Entry)?.event;
      for (const rule of pushes)
        if ((rule.trigger as { event: string }).event === name) fire(w, rule, entry as Entry);
    };
    // Entries pushed before this script arrived count too: it loads after the page's own code.
    dl.slice().forEach(handle);
    const push = dl.push;
    dl.push = function (...entries) {
      const n = push.apply(this, entries);
      entries.forEach(handle);
      return n;
    };
  }
}
