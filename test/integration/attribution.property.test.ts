import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import {
  AttributionReference,
  isIosApp,
  REF_KEY_RANK,
  type RefCredit,
  type RefDest,
  type RefIdentity,
  type RefKey,
} from '../helpers/attribution-reference.js';
import { admin, startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

// Issue 19 §5: random histories of people — several browsers, shared office IPs, user ids,
// clicks and impressions on several destinations, bots, consent, browser and server copies
// of purchases in either order, and app events from iOS and Android (issue 25: an iOS app
// event is never credited by IP, even when ATT withheld its IDFA) — go through the real collector (pixels, clicks, the tag's
// beacon, the server API) into a real store; every attribution must be one the reference
// model (written from DESIGN §6 and that rule alone) allows. Each history runs in its own namespace of
// ids and IPs on one server per store, on a stepped clock.
const hasPostgres = await postgresAvailable();
/** Histories per store and seed: a fixed seed, then a random one (printed on failure). */
const RUNS = Number(process.env.PT_PROPERTY_RUNS ?? 15);
const FIXED_SEED = 20;
const T0_S = Date.parse('2026-06-01T00:00:00Z') / 1000;
const H = 3600;
const ORIGIN = 'http://shop.test';
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
];
const BOT_UA = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

/** The destinations every history is credited against (config and reference alike). */
const DESTS: RefDest[] = [
  { id: 'dA', click_s: 7 * 24 * H, view_s: 24 * H, prob_click_s: 24 * H, prob_view_s: 24 * H },
  { id: 'dB', click_s: 24 * H, view_s: 6 * H, prob_click_s: 2 * H, prob_view_s: 1800 },
  // Probabilistic windows longer than its own: clamped to 2 h and 1 h.
  { id: 'dC', click_s: 2 * H, view_s: H, prob_click_s: 3 * 24 * H, prob_view_s: 3 * 24 * H },
  // Issue 24: dA's windows, crediting viewable impressions only (view_requires_viewable).
  {
    id: 'dV',
    click_s: 7 * 24 * H,
    view_s: 24 * H,
    prob_click_s: 24 * H,
    prob_view_s: 24 * H,
    viewable_only: true,
  },
];
const dur = (s: number) => `${s}s`;

// --- histories --------------------------------------------------------------------------

interface Browser {
  person: number;
  ip: number;
  ua: number;
  bot: boolean;
}
interface Person {
  hasEmail: boolean;
}
type ViewHow = 'pixel' | 'viewable' | 'viewable_first' | 'not_viewable' | 'unmeasurable';
type Step =
  | {
      type: 'touch';
      kind: 'click' | 'impression';
      browser: number;
      dest: number;
      pixelUser: 'none' | 'own' | 'ad_server';
      gpc: boolean;
      /**
       * Issue 24, impressions: the image pixel `/i`, or the viewability tag's signals to `/v`
       * (served, then its verdict; or the verdict first, as from another process).
       */
      view: ViewHow;
    }
  | { type: 'identify'; browser: number }
  /**
   * Issue 23: a landing on the site from a campaign link, a search engine or an ad click id —
   * a visit touch of the person. The reference model knows nothing of visits: they must never
   * change which ad touch a destination is credited with.
   */
  | { type: 'visit'; browser: number; from: 'utm' | 'search' | 'gclid' | 'fbclid' }
  /**
   * Issue 19's motif: one browser clicks, another (on whatever address) sees an impression of
   * the same destination `gap` seconds later, then buys through `purchase`.
   */
  | {
      type: 'office';
      clicker: number;
      viewer: number;
      dest: number;
      gap: number;
      purchase: Extract<Step, { type: 'purchase' }>;
    }
  /**
   * Issue 22's other way out: a browser's own click naming no destination, which every
   * destination may credit, then its `purchase` a minute later, inside every click window:
   * the person's own touch settles each destination and the address is not read.
   */
  | { type: 'loyal'; purchase: Extract<Step, { type: 'purchase' }> }
  | {
      type: 'purchase';
      browser: number;
      copies: 'browser' | 'server' | 'browser_then_server' | 'server_then_browser';
      denied: boolean;
      serverIp: boolean;
      serverUa: boolean;
      carriesClick: boolean;
      /** Seconds the caller's clock is behind ours. */
      skew: number;
      /** An app's event (issue 25): `user.os` on its one server copy; `none` is the shop's. */
      os: 'none' | 'ios' | 'android';
      /**
       * What an iOS app sends of the device, user.os or not: an IDFA ATT did not authorize, the
       * all-zero IDFA, an ATT status alone, an authorized IDFA; `none`: nothing.
       */
      device: AppleDevice;
    };
type AppleDevice = 'none' | 'idfa_denied' | 'idfa_zero' | 'att_only' | 'idfa_authorized';
/** IDFAs unique to each event: no touch carries them, so they never match. */
let idfaSeq = 0;
interface History {
  persons: Person[];
  browsers: Browser[];
  steps: Array<{ gap: number; step: Step }>;
}

/** Seconds between steps: ties, skew-sized, inside the short windows, across the long ones. */
const gapArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 90 }) },
  { weight: 4, arbitrary: fc.integer({ min: 90, max: 3 * H }) },
  { weight: 1, arbitrary: fc.integer({ min: 3 * H, max: 30 * H }) },
);

function historyArb(): fc.Arbitrary<History> {
  return fc
    .record({
      persons: fc.array(fc.record({ hasEmail: fc.boolean() }), { minLength: 1, maxLength: 3 }),
      browsers: fc.array(
        fc.record({
          person: fc.nat(2),
          // Two addresses, mostly the first: an office many browsers share.
          ip: fc.constantFrom(0, 0, 1),
          ua: fc.nat(1),
          bot: fc.constant(false),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      bots: fc.nat(1),
    })
    .chain(({ persons, browsers, bots }) => {
      const all: Browser[] = [
        ...browsers.map((b) => ({ ...b, person: b.person % persons.length })),
        ...Array.from({ length: bots }, (_, i) => ({ person: 0, ip: i % 2, ua: 0, bot: true })),
      ];
      const browser = fc.nat(all.length - 1);
      const touch = fc.record({
        type: fc.constant('touch' as const),
        kind: fc.constantFrom('click' as const, 'impression' as const),
        browser,
        // Mostly dA, so touches compete; 3 is a click that names no destination.
        // Mostly dA, then dV (viewable impressions only); 4 is a click naming no destination.
        dest: fc.constantFrom(0, 0, 0, 0, 1, 1, 2, 3, 3, 4),
        pixelUser: fc.constantFrom(
          'none' as const,
          'none' as const,
          'own' as const,
          'ad_server' as const,
        ),
        gpc: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
        view: fc.constantFrom<ViewHow>(
          'pixel',
          'pixel',
          'viewable',
          'viewable_first',
          'not_viewable',
          'unmeasurable',
        ),
      });
      const identify = fc.record({ type: fc.constant('identify' as const), browser });
      const visit = fc.record({
        type: fc.constant('visit' as const),
        browser,
        from: fc.constantFrom(
          'utm' as const,
          'search' as const,
          'gclid' as const,
          'fbclid' as const,
        ),
      });
      const purchase = fc.record({
        type: fc.constant('purchase' as const),
        browser,
        copies: fc.constantFrom(
          'browser' as const,
          'server' as const,
          'browser_then_server' as const,
          'server_then_browser' as const,
        ),
        denied: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
        serverIp: fc.boolean(),
        serverUa: fc.boolean(),
        carriesClick: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
        skew: fc.constantFrom(0, 0, 25, 45),
        os: fc.constantFrom('none' as const, 'none' as const, 'ios' as const, 'android' as const),
        device: fc.constantFrom<AppleDevice>(
          'none',
          'none',
          'none',
          'idfa_denied',
          'idfa_zero',
          'att_only',
          'idfa_authorized',
        ),
      });
      const office = fc.record({
        type: fc.constant('office' as const),
        clicker: browser,
        viewer: browser,
        dest: fc.constantFrom(0, 1, 2, 3),
        gap: fc.integer({ min: 1, max: 4 * H }),
        purchase,
      });
      const loyal = fc.record({ type: fc.constant('loyal' as const), purchase });
      const step = fc.oneof(
        { weight: 6, arbitrary: touch },
        { weight: 1, arbitrary: loyal },
        { weight: 1, arbitrary: identify },
        { weight: 2, arbitrary: visit },
        { weight: 3, arbitrary: purchase },
        { weight: 1, arbitrary: office },
      );
      return fc.record({
        persons: fc.constant(persons),
        browsers: fc.constant(all),
        steps: fc.array(fc.record({ gap: gapArb, step }), { minLength: 4, maxLength: 20 }),
      });
    });
}

// --- the run ------------------------------------------------------------------------------

interface Expectation {
  event_id: string;
  dest: string;
  /** null: no destination may credit it (consent, bots, or no touch in any window). */
  credit: RefCredit | null;
  /** An iOS app event only an IP match would have credited (issue 25). */
  iosBarred?: true;
  /** …and it said no `user.os`: only its withheld IDFA or its ATT status made it iOS. */
  iosWithheld?: true;
  /** view_requires_viewable changed the credit: another touch, or none (issue 24). */
  viewabilityDecided?: boolean;
}

/** Maps a stored match key to the reference's ranks. */
const rankOf = (key: string) => REF_KEY_RANK[key as RefKey];

class Run {
  private readonly ref = new AttributionReference();
  private readonly jar = new Map<number, string>();
  private readonly lastClick = new Map<number, string>();
  readonly expectations: Expectation[] = [];
  /** Purchases whose merged identity carries an IP address (twoPhaseTags). */
  readonly withIp = new Set<string>();
  private n = 0;

  constructor(
    private readonly h: History,
    private readonly ns: string,
    private readonly base: string,
    private readonly start: number,
    private readonly setNow: (s: number) => void,
    private readonly flush: () => Promise<void>,
    private readonly ipPrefix: string,
  ) {}

  private ipOf(b: Browser) {
    return `${this.ipPrefix}.${b.ip + 1}`;
  }
  private uaOf(b: Browser) {
    return b.bot ? BOT_UA : UAS[b.ua];
  }
  private userOf(person: number) {
    return `${this.ns}-u${person}`;
  }
  private emailOf(person: number) {
    return this.h.persons[person].hasEmail ? `${this.ns}-p${person}@example.com` : undefined;
  }
  private headers(bi: number, extra: Record<string, string> = {}) {
    const b = this.h.browsers[bi];
    const cookie = this.jar.get(bi);
    return {
      'user-agent': this.uaOf(b),
      'x-forwarded-for': this.ipOf(b),
      ...(cookie ? { cookie: `ptid=${cookie}` } : {}),
      ...extra,
    };
  }
  /** What a browser does with the answer's Set-Cookie. */
  private keep(bi: number, res: Response) {
    const set = res.headers.get('set-cookie');
    const m = set && /ptid=([^;]*);[\s\S]*?Max-Age=(\d+)/.exec(set);
    if (!m) return;
    if (m[2] === '0' || m[1] === '') this.jar.delete(bi);
    else this.jar.set(bi, m[1]);
  }

  async run(): Promise<void> {
    let now = this.start;
    for (const { gap, step } of this.h.steps) {
      now += gap;
      this.setNow(now);
      if (step.type === 'touch') await this.touch(step, now);
      else if (step.type === 'identify') await this.identify(step.browser, now);
      else if (step.type === 'visit') await this.visit(step, now);
      else if (step.type === 'purchase') now = await this.purchase(step, now);
      else if (step.type === 'loyal') {
        const { browser } = step.purchase;
        await this.touch(
          {
            type: 'touch',
            kind: 'click',
            browser,
            dest: DESTS.length,
            pixelUser: 'own',
            gpc: false,
            view: 'pixel',
          },
          now,
        );
        now += 60;
        this.setNow(now);
        now = await this.purchase(step.purchase, now);
      } else {
        const at = (kind: 'click' | 'impression', browser: number) =>
          ({
            type: 'touch',
            kind,
            browser,
            dest: step.dest,
            pixelUser: 'none',
            gpc: false,
            view: 'pixel',
          }) as const;
        await this.touch(at('click', step.clicker), now);
        now += step.gap;
        this.setNow(now);
        await this.touch(at('impression', step.viewer), now);
        now += 60;
        this.setNow(now);
        now = await this.purchase({ ...step.purchase, browser: step.viewer }, now);
      }
    }
  }

  private async touch(s: Extract<Step, { type: 'touch' }>, now: number) {
    const b = this.h.browsers[s.browser];
    const id = `${this.ns}-${s.kind === 'click' ? 'clk' : 'imp'}${this.n++}`;
    const dest = s.dest < DESTS.length ? DESTS[s.dest].id : null;
    // Impression pixels must name their destination.
    const destId = dest ?? (s.kind === 'impression' ? DESTS[0].id : null);
    const pixelUser =
      s.pixelUser === 'own'
        ? this.userOf(b.person)
        : s.pixelUser === 'ad_server'
          ? `${this.ns}-adsrv${b.person}`
          : null;
    const q = new URLSearchParams({ env_id: 'env_t' });
    if (destId) q.set('dest_id', destId);
    q.set(s.kind === 'click' ? 'click_id' : 'imp_id', id);
    if (pixelUser) q.set('user_id', pixelUser);
    if (s.kind === 'click') q.set('url', 'https://shop.example/landing');
    const headers = this.headers(s.browser, s.gpc ? { 'sec-gpc': '1' } : {});
    const tagged = s.kind === 'impression' && s.view !== 'pixel';
    if (tagged) await this.viewSignals(s.browser, q, s.view, headers);
    else {
      const res = await fetch(`${this.base}/${s.kind === 'click' ? 'c' : 'i'}?${q}`, {
        headers,
        redirect: 'manual',
      });
      this.keep(s.browser, res);
    }
    await this.flush();
    if (s.gpc) return;
    if (s.kind === 'click' && !b.bot) this.lastClick.set(b.person, id);
    this.ref.addTouch({
      kind: s.kind,
      id,
      dest: destId,
      time: now,
      anon: b.bot ? null : (this.jar.get(s.browser) ?? null),
      user_id: pixelUser,
      ip: this.ipOf(b),
      ua: this.uaOf(b),
      human: !b.bot,
      viewable: s.kind === 'impression' && (s.view === 'viewable' || s.view === 'viewable_first'),
    });
  }

  /**
   * What the viewability tag sends for an impression (issue 24): the served impression
   * (recorded by /i's own code) and at most one verdict, the verdict first when the history
   * says so (a signal handled by another process before the touch was committed).
   */
  private async viewSignals(
    bi: number,
    q: URLSearchParams,
    how: ViewHow,
    h: Record<string, string>,
  ) {
    const served = `served=1&measurable=${how === 'unmeasurable' ? 0 : 1}`;
    const verdict =
      how === 'viewable' || how === 'viewable_first'
        ? 'viewable=1&ttv_ms=1000&max_share=1.00'
        : how === 'not_viewable'
          ? 'measurable=1&viewable=0&max_share=0.30'
          : null;
    const send = async (signal: string) => {
      const res = await fetch(`${this.base}/v?${q}&${signal}`, { method: 'POST', headers: h });
      expect(res.status).toBe(204);
      this.keep(bi, res);
    };
    if (how === 'viewable_first' && verdict) {
      await send(verdict);
      await this.flush();
    }
    await send(served);
    if (how !== 'viewable_first' && verdict) await send(verdict);
  }

  /** The tag's first-party id: the collector's cookie, else one of its own. */
  private tagId(bi: number) {
    return this.jar.get(bi) ?? `${this.ns}-tag${bi}`;
  }

  private async beacon(bi: number, event: Record<string, unknown>) {
    const res = await fetch(`${this.base}/e`, {
      method: 'POST',
      headers: this.headers(bi, { origin: ORIGIN, 'content-type': 'application/json' }),
      body: JSON.stringify({ env_id: 'env_t', ...event }),
    });
    expect(res.status).toBe(204);
    this.keep(bi, res);
    await this.flush();
  }

  /** A PageView on a landing: a visit touch of the browser's person, unknown to the reference. */
  private async visit(s: Extract<Step, { type: 'visit' }>, now: number) {
    const landing = {
      utm: ['https://shop.example/?utm_source=newsletter&utm_medium=email', ''],
      search: ['https://shop.example/shoes', 'https://www.google.com/'],
      gclid: ['https://shop.example/?gclid=Cj0KCQ', 'https://www.google.com/'],
      fbclid: ['https://shop.example/?fbclid=IwAR0', 'https://l.facebook.com/'],
    }[s.from];
    await this.beacon(s.browser, {
      event_name: 'PageView',
      event_id: `${this.ns}-pv${this.n++}`,
      event_time: now,
      user: { anonymous_id: this.tagId(s.browser) },
      properties: { url: landing[0], referrer: landing[1] },
    });
  }

  private async identify(bi: number, now: number) {
    const b = this.h.browsers[bi];
    const anon = this.tagId(bi);
    const user_id = this.userOf(b.person);
    const email = this.emailOf(b.person);
    await this.beacon(bi, {
      event_name: 'Signup',
      event_id: `${this.ns}-sig${this.n++}`,
      event_time: now,
      user: { anonymous_id: anon, user_id, ...(email ? { email } : {}) },
    });
    if (!b.bot) this.ref.link({ time: now, anons: [anon], user_id, email });
  }

  /** Sends the purchase's copies; the clock when the last one was sent. */
  private async purchase(s: Extract<Step, { type: 'purchase' }>, now: number): Promise<number> {
    const b = this.h.browsers[s.browser];
    const event_id = `${this.ns}-ord${this.n++}`;
    const event_time = now - s.skew;
    // Bots never reach the shop's backend: their purchases are browser copies only. An app's
    // event comes from the app's backend (or SDK), once; an Android app sends no Apple fields.
    const device = s.os === 'android' ? 'none' : s.device;
    const app = appFields(device);
    const copies = b.bot
      ? ['browser']
      : s.os !== 'none' || device !== 'none'
        ? ['server']
        : s.copies === 'browser_then_server'
          ? ['browser', 'server']
          : s.copies === 'server_then_browser'
            ? ['server', 'browser']
            : [s.copies];
    const consent = { ads: !s.denied };
    const common = { event_name: 'Purchase', event_id, event_time, consent };
    const properties = { value: 10, currency: 'EUR' };
    const user_id = this.userOf(b.person);
    const email = this.emailOf(b.person);
    const click_id = s.carriesClick ? this.lastClick.get(b.person) : undefined;
    let merged: RefIdentity | null = null;
    for (const [i, copy] of copies.entries()) {
      this.setNow(now + i * 5);
      let who: RefIdentity;
      if (copy === 'browser') {
        const anon = this.tagId(s.browser);
        await this.beacon(s.browser, { ...common, properties, user: { anonymous_id: anon } });
        who = { time: event_time, anons: [anon], ip: this.ipOf(b), ua: this.uaOf(b) };
      } else {
        const user = {
          user_id,
          ...(email ? { email } : {}),
          ...(s.serverIp ? { ip: this.ipOf(b) } : {}),
          ...(s.serverUa ? { user_agent: this.uaOf(b) } : {}),
          ...(click_id ? { click_id } : {}),
          ...(s.os !== 'none' ? { os: s.os } : {}),
          ...app,
        };
        const res = await fetch(`${this.base}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer wk_t' },
          body: JSON.stringify({ events: [{ ...common, properties, user }] }),
        });
        expect(await res.json()).toMatchObject({ errors: [] });
        await this.flush();
        who = {
          time: event_time,
          anons: [],
          user_id,
          email,
          ip: user.ip,
          ua: user.user_agent,
          click_id,
          ...(s.os !== 'none' || device !== 'none'
            ? { app: { ...(s.os !== 'none' ? { os: s.os } : {}), ...app } }
            : {}),
        };
      }
      // DESIGN §6: later copies fill what the first lacked; the merged event is what counts.
      merged = merged
        ? {
            time: merged.time,
            anons: [...new Set([...merged.anons, ...who.anons])],
            user_id: merged.user_id ?? who.user_id,
            email: merged.email ?? who.email,
            ip: merged.ip ?? who.ip,
            ua: merged.ua ?? who.ua,
            click_id: merged.click_id ?? who.click_id,
            app: merged.app ?? who.app,
          }
        : who;
      if (!s.denied && !b.bot) this.ref.link(merged);
    }
    const final = merged as RefIdentity;
    if (final.ip) this.withIp.add(event_id);
    const ids = (c: RefCredit | null) => c?.winners.map((w) => w.id).join() ?? '';
    for (const d of DESTS) {
      const credit = s.denied || b.bot ? null : this.ref.credit(final, d);
      // What an IP match would have earned, had the event not come from iOS.
      const fingerprinted =
        isIosApp(final.app) && !credit ? this.ref.credit(final, d, false) : null;
      const barred = fingerprinted?.match_type === 'probabilistic';
      const lenient = d.viewable_only && !s.denied && !b.bot;
      const without = lenient ? this.ref.credit(final, { ...d, viewable_only: false }) : credit;
      this.expectations.push({
        event_id,
        dest: d.id,
        credit,
        ...(barred ? { iosBarred: true } : {}),
        ...(barred && final.app?.os === undefined ? { iosWithheld: true } : {}),
        viewabilityDecided: ids(without) !== ids(credit),
      });
    }
    return now + (copies.length - 1) * 5;
  }
}

/** The Apple fields an iOS app's event carries, as the app sends them. */
function appFields(device: AppleDevice): Record<string, string> {
  const idfa = `a0000000-0000-4000-8000-${(++idfaSeq).toString(16).padStart(12, '0')}`;
  if (device === 'idfa_denied') return { idfa, att_status: 'denied' };
  if (device === 'idfa_zero') return { idfa: '00000000-0000-0000-0000-000000000000' };
  if (device === 'att_only') return { att_status: 'notDetermined' };
  if (device === 'idfa_authorized') return { idfa, att_status: 'authorized' };
  return {};
}

/**
 * What a purchase made of decide()'s two-phase read (issue 22): `own_and_ip` when one
 * destination is credited deterministically and another probabilistically, so the address's
 * touches had to be read after the person's own; `own_settles_all` when every destination is
 * credited deterministically and the event carries an address, which is then not read.
 */
function twoPhaseTags(exps: readonly Expectation[], withIp: ReadonlySet<string>): string[] {
  const byEvent = new Map<string, Array<RefCredit | null>>();
  for (const e of exps) byEvent.set(e.event_id, [...(byEvent.get(e.event_id) ?? []), e.credit]);
  const tags: string[] = [];
  for (const [event_id, credits] of byEvent) {
    const types = credits.map((c) => c?.match_type ?? 'none');
    if (types.includes('deterministic') && types.includes('probabilistic')) tags.push('own_and_ip');
    if (withIp.has(event_id) && types.every((t) => t === 'deterministic'))
      tags.push('own_settles_all');
  }
  return tags;
}

/** Checks one stored conversion against what the reference allows. */
function check(exp: Expectation, conv: any): string | null {
  const a = conv?.attribution ?? null;
  if (!conv) return `${exp.event_id} → ${exp.dest}: no conversion stored`;
  if (!exp.credit) {
    return a === null
      ? null
      : `${exp.event_id} → ${exp.dest}: credited ${a.click_id ?? a.imp_id} via ${a.match_key}; the reference credits nothing`;
  }
  const want = exp.credit;
  const ids = want.winners.map((w) => w.id);
  const got = a ? (a.click_id ?? a.imp_id) : null;
  if (!a || !ids.includes(got)) {
    return `${exp.event_id} → ${exp.dest}: credited ${got ?? `nothing (${conv.reason})`}${a ? ` via ${a.match_key}` : ''}; the reference credits ${ids.join(' or ')} (class ${want.klass}, ${want.match_type})`;
  }
  if (rankOf(a.match_key) !== want.rank || a.match_type !== want.match_type)
    return `${exp.event_id} → ${exp.dest}: ${got} via ${a.match_key} (${a.match_type}); the reference finds it by a key of rank ${want.rank} (${want.match_type})`;
  return null;
}

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`attribution property on ${kind}`, () => {
    let hook: Receiver;
    let server: Server;
    let base: string;
    let dispose: () => Promise<void>;
    let nowS = T0_S;
    let runs = 0;
    /** What the histories led to, so a generator that stops reaching a case is noticed. */
    const seen = new Set<string>();

    beforeAll(async () => {
      hook = await startReceiver(() => 200);
      const opened = await open();
      dispose = opened.dispose;
      const raw = testConfig(`${hook.url}/hook`) as any;
      const template = raw.environments[0].destinations[0];
      // Each browser's address comes in X-Forwarded-For; no rate limit on a test's bursts.
      raw.trust_proxy = true;
      raw.rate_limit = { per_ip: 0, per_key: 0 };
      raw.environments[0].destinations = DESTS.map((d) => ({
        ...template,
        id: d.id,
        events: ['Purchase'],
        click_window: dur(d.click_s),
        view_window: dur(d.view_s),
        probabilistic_click_window: dur(d.prob_click_s),
        probabilistic_view_window: dur(d.prob_view_s),
        view_requires_viewable: d.viewable_only === true,
      }));
      ({ server, base } = await startPixeltrail(raw, tempDir(), {
        store: opened.store,
        nowMs: () => nowS * 1000,
      }));
    });

    afterAll(async () => {
      await server?.close();
      await dispose?.();
      await hook?.close();
    });

    const property = fc.asyncProperty(historyArb(), async (h) => {
      const r = runs++;
      // Each history far from the last in time, with its own ids and addresses.
      const start = T0_S + r * 60 * 86_400;
      const ns = `${kind.slice(0, 2)}${r}`;
      const run = new Run(
        h,
        ns,
        base,
        start,
        (s) => {
          nowS = s;
        },
        () => server.services.pipeline.flush(),
        `10.${Math.floor(r / 200) + 1}.${r % 200}`,
      );
      await run.run();
      const { body } = await admin(base, `/api/conversions?env_id=env_t&since=${start}&limit=1000`);
      const stored = body.conversions.filter((c: any) => c.event_id.startsWith(`${ns}-`));
      const problems = run.expectations
        .map((exp) =>
          check(
            exp,
            stored.find((c: any) => c.event_id === exp.event_id && c.dest_id === exp.dest),
          ),
        )
        .filter((p): p is string => p !== null);
      for (const e of run.expectations) {
        seen.add(e.credit ? e.credit.match_type : 'none');
        if (e.iosBarred) seen.add('ios_ip_barred');
        if (e.iosWithheld) seen.add('ios_ip_barred_withheld');
        if (e.viewabilityDecided) seen.add('viewability');
      }
      for (const tag of twoPhaseTags(run.expectations, run.withIp)) seen.add(tag);
      if (problems.length > 0)
        throw new Error(`${problems.join('\n')}\nhistory: ${JSON.stringify(h)}`);
    });

    it(`AP01 every attribution is one DESIGN §6 allows (fixed seed ${FIXED_SEED})`, async () => {
      await fc.assert(property, { numRuns: RUNS, seed: FIXED_SEED, endOnFailure: true });
      // 'viewability': some credit of dV went elsewhere, or nowhere, for an unviewed impression.
      // 'own_and_ip', 'own_settles_all': both ways out of decide()'s two-phase read (own
      // touches, then the address's only when they leave something open) were taken.
      expect([...seen].sort()).toEqual([
        'deterministic',
        'ios_ip_barred',
        'ios_ip_barred_withheld',
        'none',
        'own_and_ip',
        'own_settles_all',
        'probabilistic',
        'viewability',
      ]);
      // The histories did land visits among the touches credit was decided over.
      const visits = await (server.services.store as KyselyStore).db
        .selectFrom('touches')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('env_id', '=', 'env_t')
        .where('kind', '=', 'visit')
        .executeTakeFirst();
      expect(Number(visits?.n)).toBeGreaterThan(0);
    }, 300_000);

    it('AP02 every attribution is one DESIGN §6 allows (a random seed, printed on failure)', async () => {
      const seed = Date.now() ^ (Math.random() * 2 ** 31);
      try {
        await fc.assert(property, { numRuns: RUNS, seed, endOnFailure: true });
      } catch (err) {
        throw new Error(`seed ${seed}: ${(err as Error).message}`);
      }
    }, 300_000);
  });
}
