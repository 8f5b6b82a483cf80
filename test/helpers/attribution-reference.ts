// A reference model of last-touch attribution written from DESIGN §6 alone (and issue 25's
// one addition: an iOS app event is never credited by `ip+ua` or `ip`), for the
// property test (test/integration/attribution.property.test.ts). It imports nothing of
// pixeltrail's: where the two disagree, one of them misreads the design.

/** Clock skew DESIGN §6 allows: a touch up to 30 s after the conversion still counts. */
const SKEW_S = 30;

export type RefKind = 'click' | 'impression';

/** A recorded ad touch, as a person's browser made it. */
export interface RefTouch {
  kind: RefKind;
  id: string;
  /** The destination that served it; null when the click named none. */
  dest: string | null;
  /** Unix seconds. */
  time: number;
  /** The browser's first-party cookie, when it had one. */
  anon: string | null;
  /** The user id the ad server put on the pixel. */
  user_id: string | null;
  ip: string;
  ua: string;
  /** Bots and prefetches are recorded but never credited. */
  human: boolean;
  /**
   * An impression the viewability tag saw viewable (at least half of it in view for a
   * continuous second, issue 24); false when it did not, or no tag ran with it.
   */
  viewable: boolean;
}

/** A destination's windows as configured, in seconds. */
export interface RefDest {
  id: string;
  click_s: number;
  view_s: number;
  prob_click_s: number;
  prob_view_s: number;
  /** `view_requires_viewable`: impressions earn credit only when viewable (issue 24). */
  viewable_only?: boolean;
}

/** The converting person as the (merged) event names them. */
export interface RefIdentity {
  /** Unix seconds (event_time). */
  time: number;
  anons: string[];
  user_id?: string;
  email?: string;
  ip?: string;
  ua?: string;
  click_id?: string;
  /** What an app's event said of its device (issue 25), exactly as the app sent it. */
  app?: RefApp;
}

/** The device fields of an app's event, as sent (before any normalisation or dropping). */
export interface RefApp {
  os?: string;
  idfa?: string;
  idfv?: string;
  att_status?: string;
}

/**
 * Issue 25 §3: an event is from iOS when it says so (`user.os`), or carries an `idfa` or an
 * `idfv`. An IDFA counts whatever its value (the all-zero one of a device that opted out is
 * still Apple's), and so does an App Tracking Transparency status: ATT exists on Apple's
 * platforms only. Refusing tracking must never make a device easier to match.
 */
export function isIosApp(app: RefApp | undefined): boolean {
  if (!app) return false;
  const os = app.os?.trim().toLowerCase();
  const appleOs = os === 'ios' || os === 'ipados' || os === 'iphone os';
  return appleOs || !!app.idfa || !!app.idfv || app.att_status !== undefined;
}

/**
 * Key strength, DESIGN §6 order, strongest first. A cookie linked to a user id or email counts
 * as that key; click_id/imp_id carried on the event is deterministic; ip+ua and ip are not.
 */
export const REF_KEY_RANK = {
  user_id: 0,
  email: 1,
  phone: 2,
  device_id: 3,
  cookie: 3,
  click_id: 4,
  imp_id: 4,
  'ip+ua': 5,
  ip: 6,
} as const;
export type RefKey = keyof typeof REF_KEY_RANK;

const PROBABILISTIC: ReadonlySet<RefKey> = new Set(['ip+ua', 'ip']);

/** One acceptable answer: the touches that tie for the win, and the key and class they won by. */
export interface RefCredit {
  winners: RefTouch[];
  rank: number;
  match_type: 'deterministic' | 'probabilistic';
  /** 1..6, DESIGN §6. */
  klass: number;
}

/** Touches, identity links and the rule that picks the credited touch. */
export class AttributionReference {
  readonly touches: RefTouch[] = [];
  /** Strong key (`user_id:U`, `email:M`) → the cookies seen together with it. */
  private readonly links = new Map<string, Set<string>>();

  addTouch(t: RefTouch): void {
    this.touches.push(t);
  }

  /** An event (consented, human) links every cookie it carries to every strong key it names. */
  link(who: RefIdentity): void {
    for (const key of strongKeys(who)) {
      const set = this.links.get(key) ?? new Set<string>();
      for (const a of who.anons) set.add(a);
      this.links.set(key, set);
    }
  }

  /** The strongest key under which `t` is the person's, or null. */
  private keyOf(t: RefTouch, who: RefIdentity): RefKey | null {
    const keys: RefKey[] = [];
    if (who.user_id && t.user_id === who.user_id) keys.push('user_id');
    if (t.anon) {
      if (who.user_id && this.links.get(`user_id:${who.user_id}`)?.has(t.anon))
        keys.push('user_id');
      if (who.email && this.links.get(`email:${who.email}`)?.has(t.anon)) keys.push('email');
      if (who.anons.includes(t.anon)) keys.push('cookie');
    }
    if (t.kind === 'click' && who.click_id && t.id === who.click_id) keys.push('click_id');
    if (who.ip && t.ip === who.ip) keys.push(who.ua && t.ua === who.ua ? 'ip+ua' : 'ip');
    keys.sort((a, b) => REF_KEY_RANK[a] - REF_KEY_RANK[b]);
    return keys[0] ?? null;
  }

  /**
   * DESIGN §6: the credited touch for one destination, or null when none may be credited.
   * `iosRule: false` asks what an IP match would have earned without issue 25's rule.
   */
  credit(who: RefIdentity, dest: RefDest, iosRule = true): RefCredit | null {
    const ios = iosRule && isIosApp(who.app);
    type Cand = { t: RefTouch; key: RefKey; klass: number };
    const cands: Cand[] = [];
    for (const t of this.touches) {
      if (!t.human) continue;
      if (t.dest !== null && t.dest !== dest.id) continue;
      if (t.time > who.time + SKEW_S) continue;
      // Issue 24: a destination asking for viewable impressions ignores the others.
      if (dest.viewable_only && t.kind === 'impression' && !t.viewable) continue;
      const key = this.keyOf(t, who);
      if (!key) continue;
      const prob = PROBABILISTIC.has(key);
      if (prob && ios) continue;
      const own = t.kind === 'click' ? dest.click_s : dest.view_s;
      const asked = t.kind === 'click' ? dest.prob_click_s : dest.prob_view_s;
      const window = prob ? Math.min(asked, own) : own;
      if (who.time - t.time > window) continue;
      const evidence = !prob ? 0 : key === 'ip+ua' ? 1 : 2;
      cands.push({ t, key, klass: 1 + evidence * 2 + (t.kind === 'click' ? 0 : 1) });
    }
    if (cands.length === 0) return null;
    const best = (xs: Cand[], f: (c: Cand) => number) => {
      const m = Math.min(...xs.map(f));
      return xs.filter((c) => f(c) === m);
    };
    let top = best(cands, (c) => c.klass);
    top = best(top, (c) => -c.t.time);
    top = best(top, (c) => REF_KEY_RANK[c.key]);
    const first = top[0];
    return {
      winners: top.map((c) => c.t),
      rank: REF_KEY_RANK[first.key],
      match_type: PROBABILISTIC.has(first.key) ? 'probabilistic' : 'deterministic',
      klass: first.klass,
    };
  }
}

function strongKeys(who: RefIdentity): string[] {
  const keys: string[] = [];
  if (who.user_id) keys.push(`user_id:${who.user_id}`);
  if (who.email) keys.push(`email:${who.email}`);
  return keys;
}
