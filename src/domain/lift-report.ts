import {
  currentFraction,
  fractionAt,
  type Holdout,
  type HoldoutGroup,
  holdoutPosition,
} from './holdout.js';
import { compareProportions } from './lift-proportions.js';
import {
  addTo,
  compareMeans,
  type LiftEstimate,
  type Moments,
  noMoments,
  type PeopleNeeded,
  peopleNeeded,
} from './lift-stats.js';
import { NO_CURRENCY } from './money.js';

// The lift report of one holdout (issue 23 §3): everyone who entered the test in a range,
// in the group they were given then, and what each did from then on.

/** Someone entering a holdout test: joining the audience, or being looked up for the campaign. */
export interface LiftEntry {
  person: string;
  /** Unix seconds. */
  entered_at: number;
  /**
   * The key this entry was recorded under, when not `person`: one person's ids that entered
   * apart (a browser, then its user) are one person, hashed by the key they entered first.
   */
  key?: string;
}

/** A conversion event, already resolved to the person it belongs to. */
export interface LiftConversion {
  person: string;
  /** Unix seconds. */
  time: number;
  value: number | null;
  currency: string | null;
}

export interface LiftInput {
  holdout: Holdout;
  entries: readonly LiftEntry[];
  conversions: readonly LiftConversion[];
  /** Unix seconds: people entering in [from, to), conversions before `to`. */
  from: number;
  to: number;
  /** Half-width asked of the relative lift's interval (0.05: ±5 points). */
  precision: number;
}

/** What one group did. Money per currency as sent, never added across currencies. */
export interface GroupFigures {
  people: number;
  /** People with at least one conversion. */
  converters: number;
  conversions: number;
  revenue_by_currency: Record<string, number>;
}

export interface LiftReport {
  groups: Record<HoldoutGroup, GroupFigures>;
  /**
   * People whose group changed after they entered, because the fraction changed, or whose
   * ids entered apart on both sides (a browser exposed, another held out, before a login
   * joined them): they saw both sides of the test, so they are counted in neither.
   */
  switched: number;
  /** Share of people who converted at least once. */
  conversion_rate: LiftEstimate;
  conversions_per_person: LiftEstimate;
  /** One comparison per currency of the values. */
  revenue_per_person: Record<string, LiftEstimate>;
  /** For the conversion rate. */
  people_needed: PeopleNeeded;
  summary: string;
}

interface Person {
  group: HoldoutGroup;
  entered_at: number;
  conversions: number;
  revenue: Map<string, number>;
}

/** A count rounded up to two significant digits: "about 12,000", not "about 11,873". */
export function roughly(n: number): number {
  if (n < 100) return Math.ceil(n);
  const step = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.ceil(n / step) * step;
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const count = (n: number) => n.toLocaleString('en-US');

/** The sentence a reader sees first: is there enough data, and what it says. */
function summaryOf(r: Omit<LiftReport, 'summary'>): string {
  const people = r.groups.exposed.people + r.groups.holdout.people;
  if (people === 0) return 'No one has entered this test in the range yet.';
  const need = r.people_needed;
  const now = `${count(r.groups.exposed.people)} exposed, ${count(r.groups.holdout.people)} held out`;
  if (need.more_for_precision === null)
    return `Not enough data yet: no conversions in either group (${now}), so the people needed cannot be estimated.`;
  const est = r.conversion_rate;
  if (need.more_for_precision > 0) {
    const sofar =
      est.relative === null ? '' : ` So far the conversion rate is ${pct(est.relative)} higher.`;
    return `Not enough data yet: about ${count(roughly(need.more_for_precision))} more people needed for ±${pct(need.precision)} on the lift (${now}).${sofar}`;
  }
  if (est.relative === null || est.relative_ci === null || est.p_value === null)
    return `No held-out person converted (${now}): the relative lift cannot be measured.`;
  const ci = `95 % CI ${pct(est.relative_ci[0])} to ${pct(est.relative_ci[1])}, p = ${est.p_value.toPrecision(2)}`;
  const shown = est.relative_ci[0] > 0 || est.relative_ci[1] < 0;
  if (!shown)
    return `No lift shown: exposed people converted ${pct(est.relative)} more than held-out people, but the interval includes 0 (${ci}).`;
  const extra = Math.round((est.absolute ?? 0) * r.groups.exposed.people);
  return `Exposed people converted ${pct(est.relative)} more than held-out people (${ci}): about ${count(extra)} converters the ads added.`;
}

/**
 * The lift report. Each person counts once, from their first entry, in the group the hash
 * of that entry's key gave them then (the fraction then in force), and only if the fraction
 * in force now gives them the same group and no other key of theirs entered on the other
 * side; their conversions from entry to `to` count. One pass over entries and conversions.
 */
export function liftReport(input: LiftInput): LiftReport {
  const { holdout, from, to } = input;
  const inRange = input.entries.filter((e) => e.entered_at >= from && e.entered_at < to);
  const keyOf = (e: LiftEntry) => e.key ?? e.person;
  const groupAt = (e: LiftEntry, ms: number): HoldoutGroup =>
    holdoutPosition(holdout.salt, keyOf(e)) < fractionAt(holdout, ms) ? 'holdout' : 'exposed';
  const first = new Map<string, LiftEntry>();
  for (const e of inRange) {
    const f = first.get(e.person);
    if (!f || e.entered_at < f.entered_at || (e.entered_at === f.entered_at && keyOf(e) < keyOf(f)))
      first.set(e.person, e);
  }
  const both = new Set<string>();
  for (const e of inRange) {
    const f = first.get(e.person) as LiftEntry;
    if (groupAt(e, e.entered_at * 1000) !== groupAt(f, f.entered_at * 1000)) both.add(e.person);
  }
  const people = new Map<string, Person>();
  let switched = 0;
  for (const [person, e] of first) {
    const group = groupAt(e, e.entered_at * 1000);
    if (both.has(person) || group !== groupAt(e, Number.POSITIVE_INFINITY)) {
      switched += 1;
      continue;
    }
    people.set(person, { group, entered_at: e.entered_at, conversions: 0, revenue: new Map() });
  }
  for (const c of input.conversions) {
    const p = people.get(c.person);
    if (!p || c.time < p.entered_at || c.time >= to) continue;
    p.conversions += 1;
    if (c.value !== null && c.value !== 0) {
      const cur = c.currency ?? NO_CURRENCY;
      p.revenue.set(cur, (p.revenue.get(cur) ?? 0) + c.value);
    }
  }
  const currencies = new Set<string>();
  for (const p of people.values()) for (const cur of p.revenue.keys()) currencies.add(cur);
  const groups = {} as Record<HoldoutGroup, GroupFigures>;
  const rate = { exposed: noMoments(), holdout: noMoments() };
  const perPerson = { exposed: noMoments(), holdout: noMoments() };
  const revenue = new Map<string, Record<HoldoutGroup, Moments>>(
    [...currencies].map((c) => [c, { exposed: noMoments(), holdout: noMoments() }]),
  );
  for (const g of ['exposed', 'holdout'] as const)
    groups[g] = { people: 0, converters: 0, conversions: 0, revenue_by_currency: {} };
  for (const p of people.values()) {
    const g = groups[p.group];
    g.people += 1;
    g.converters += p.conversions > 0 ? 1 : 0;
    g.conversions += p.conversions;
    addTo(rate[p.group], p.conversions > 0 ? 1 : 0);
    addTo(perPerson[p.group], p.conversions);
    for (const [cur, m] of revenue) {
      const v = p.revenue.get(cur) ?? 0;
      addTo(m[p.group], v);
      if (v !== 0) g.revenue_by_currency[cur] = (g.revenue_by_currency[cur] ?? 0) + v;
    }
  }
  const sorted = [...revenue].sort(([a], [b]) => a.localeCompare(b));
  const report = {
    groups,
    switched,
    conversion_rate: compareProportions(
      { x: groups.exposed.converters, n: groups.exposed.people },
      { x: groups.holdout.converters, n: groups.holdout.people },
    ),
    conversions_per_person: compareMeans(perPerson.exposed, perPerson.holdout),
    revenue_per_person: Object.fromEntries(
      sorted.map(([cur, m]) => [cur, compareMeans(m.exposed, m.holdout)]),
    ),
    people_needed: peopleNeeded(
      rate.exposed,
      rate.holdout,
      currentFraction(holdout),
      input.precision,
    ),
  };
  return { ...report, summary: summaryOf(report) };
}
