/**
 * Codeless triggers: per-environment rules the browser tag applies without a site deploy —
 * "URL matches /thank-you* → Purchase", "click on #signup → Lead", "dataLayer event
 * purchase → Purchase" — with values read from dataLayer paths. Checked here, stored by the
 * admin API, served to the tag as JSON.
 */
import { globMatcher } from './glob-match.js';
import type { FieldError } from './validation-error.js';

/** Rules one environment may hold; each is checked on every page view or click. */
export const MAX_RULES = 100;
const MAX_TEXT_CHARS = 256;
const PATH_RE = /^[A-Za-z_$][\w$]*(\.[\w$]+)*$/;

/** What fires a rule. */
export type Trigger =
  /** The page's path and query (or full URL when the pattern has `://`) match a `*` glob. */
  | { type: 'url'; pattern: string }
  /** A click on an element matching (or inside) a CSS selector. */
  | { type: 'click'; selector: string }
  /** A `dataLayer.push({event})` with this event name. */
  | { type: 'datalayer'; event: string };

/** One rule: when `trigger` happens, track `event_name` with these properties. */
export interface TriggerRule {
  id: string;
  event_name: string;
  trigger: Trigger;
  /** dataLayer path of the value, e.g. `ecommerce.value`. */
  value_path?: string;
  /** A fixed currency, or a dataLayer path to read it from. */
  currency?: string;
  currency_path?: string;
  /** dataLayer path of an id that dedups browser and server copies (`ecommerce.transaction_id`). */
  event_id_path?: string;
}

export type RulesResult = { ok: true; rules: TriggerRule[] } | { ok: false; errors: FieldError[] };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(o: Obj, key: string, at: string, errors: FieldError[], required: boolean) {
  const v = o[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.trim() === '' || v.length > MAX_TEXT_CHARS) {
    errors.push({
      field: `${at}.${key}`,
      message: `must be a string of 1 to ${MAX_TEXT_CHARS} characters`,
    });
    return undefined;
  }
  return v.trim();
}

function dataLayerPath(o: Obj, key: string, at: string, errors: FieldError[]) {
  const v = text(o, key, at, errors, false);
  if (v !== undefined && !PATH_RE.test(v)) {
    errors.push({ field: `${at}.${key}`, message: 'must be a dotted path like ecommerce.value' });
    return undefined;
  }
  return v;
}

function parseTrigger(raw: unknown, at: string, errors: FieldError[]): Trigger | undefined {
  if (!isObj(raw)) {
    errors.push({ field: at, message: 'must be an object with a type: url, click or datalayer' });
    return undefined;
  }
  switch (raw.type) {
    case 'url': {
      const pattern = text(raw, 'pattern', at, errors, true);
      return pattern === undefined ? undefined : { type: 'url', pattern };
    }
    case 'click': {
      const selector = text(raw, 'selector', at, errors, true);
      return selector === undefined ? undefined : { type: 'click', selector };
    }
    case 'datalayer': {
      const event = text(raw, 'event', at, errors, true);
      return event === undefined ? undefined : { type: 'datalayer', event };
    }
    default:
      errors.push({ field: `${at}.type`, message: 'must be url, click or datalayer' });
      return undefined;
  }
}

/**
 * Checks a rule set as the admin API receives it; every problem is named by its path
 * (`rules.2.trigger.selector`). Ids default to the rule's position and must be unique.
 */
export function parseRules(raw: unknown): RulesResult {
  const errors: FieldError[] = [];
  if (!Array.isArray(raw))
    return { ok: false, errors: [{ field: 'rules', message: 'must be a list' }] };
  if (raw.length > MAX_RULES)
    return {
      ok: false,
      errors: [{ field: 'rules', message: `must hold at most ${MAX_RULES} rules` }],
    };
  const rules: TriggerRule[] = [];
  raw.forEach((r, i) => {
    const at = `rules.${i}`;
    if (!isObj(r)) {
      errors.push({ field: at, message: 'must be an object' });
      return;
    }
    const before = errors.length;
    const rule: TriggerRule = {
      id: text(r, 'id', at, errors, false) ?? `rule-${i + 1}`,
      event_name: text(r, 'event_name', at, errors, true) ?? '',
      trigger: parseTrigger(r.trigger, `${at}.trigger`, errors) as Trigger,
    };
    const valuePath = dataLayerPath(r, 'value_path', at, errors);
    const currencyPath = dataLayerPath(r, 'currency_path', at, errors);
    const idPath = dataLayerPath(r, 'event_id_path', at, errors);
    const currency = text(r, 'currency', at, errors, false);
    if (currency !== undefined && !/^[A-Za-z]{3}$/.test(currency))
      errors.push({ field: `${at}.currency`, message: 'must be an ISO 4217 code' });
    if (valuePath) rule.value_path = valuePath;
    if (currencyPath) rule.currency_path = currencyPath;
    if (idPath) rule.event_id_path = idPath;
    if (currency) rule.currency = currency.toUpperCase();
    if (errors.length === before) rules.push(rule);
  });
  const ids = rules.map((r) => r.id);
  ids.forEach((id, i) => {
    if (ids.indexOf(id) !== i)
      errors.push({ field: `rules.${i}.id`, message: `duplicates id ${id}` });
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, rules };
}

/**
 * Whether a URL matches a rule's `*` glob (any characters; `?` is itself, URLs hold one), in
 * time linear in the URL (glob-match.ts).
 */
export function urlMatchesGlob(pattern: string, url: string): boolean {
  return globMatcher(pattern, { anyChar: false })(url);
}
