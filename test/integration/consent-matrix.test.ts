/**
 * Consent matrix (issue 6): environment default (granted/denied) × the tag's consent call
 * (none/granted/denied) × Sec-GPC × TCF string (none, with purpose 1, without purpose 1), then
 * GPP rows: default × call (none/granted) × a GPP string (EU TCF section with and without
 * purpose 1, US National / California / Virginia opt-outs, US National without one).
 * For each of the 60 cases, one impression, one tag purchase by the same browser, and then:
 * what is stored (cookie, touch, event and its consent), what is attributed, what is delivered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { gppString, gppTcf } from '../helpers/gpp.js';
import { admin, startPixeltrail, tempDir, testConfig, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { storedByKey } from '../helpers/stored-event.js';
import { tcfString } from '../helpers/tcf.js';

type Default = 'granted' | 'denied';
type Call = 'none' | 'granted' | 'denied';
type Tcf = 'none' | 'purpose1' | 'no_purpose1';
type Gpp =
  | 'none'
  | 'tcf_purpose1'
  | 'tcf_no_purpose1'
  | 'usnat_sale_opt_out'
  | 'usca_sharing_opt_out'
  | 'usva_targeted_opt_out'
  | 'usnat_no_opt_out';

interface Case {
  n: number;
  consentDefault: Default;
  call: Call;
  gpc: boolean;
  tcf: Tcf;
  gpp: Gpp;
}

const CASES: Case[] = [];
for (const consentDefault of ['granted', 'denied'] as const)
  for (const call of ['none', 'granted', 'denied'] as const)
    for (const gpc of [false, true])
      for (const tcf of ['none', 'purpose1', 'no_purpose1'] as const)
        CASES.push({ n: CASES.length, consentDefault, call, gpc, tcf, gpp: 'none' });
for (const consentDefault of ['granted', 'denied'] as const)
  for (const call of ['none', 'granted'] as const)
    for (const gpp of [
      'tcf_purpose1',
      'tcf_no_purpose1',
      'usnat_sale_opt_out',
      'usca_sharing_opt_out',
      'usva_targeted_opt_out',
      'usnat_no_opt_out',
    ] as const)
      CASES.push({ n: CASES.length, consentDefault, call, gpc: false, tcf: 'none', gpp });

/** GPP strings made with the IAB's encoder, and the `gpp_sid` sent with each. */
const GPP: Record<Exclude<Gpp, 'none'>, string> = {
  tcf_purpose1: `gpp=${gppString({ tcfeuv2: gppTcf([1, 2, 3, 4]) })}&gpp_sid=2`,
  tcf_no_purpose1: `gpp=${gppString({ tcfeuv2: gppTcf([2, 3, 4]) })}&gpp_sid=2`,
  usnat_sale_opt_out: `gpp=${gppString({ usnat: { SaleOptOut: 1, SaleOptOutNotice: 1 } })}`,
  usca_sharing_opt_out: `gpp=${gppString({ usca: { SaleOptOut: 2, SharingOptOut: 1 } })}&gpp_sid=8`,
  usva_targeted_opt_out: `gpp=${gppString({ usva: { TargetedAdvertisingOptOut: 1 } })}&gpp_sid=9`,
  usnat_no_opt_out: `gpp=${gppString({ usnat: { SaleOptOut: 2, SharingOptOut: 2 } })}&gpp_sid=7`,
};
const GPP_DENIES = new Set<Gpp>([
  'tcf_no_purpose1',
  'usnat_sale_opt_out',
  'usca_sharing_opt_out',
  'usva_targeted_opt_out',
]);

/**
 * The rules, written out independently of the code. The impression is served on another site
 * before the shop's consent call, so only its own signals count for it; the purchase carries
 * the call too.
 */
function impressionAllowed(c: Case): boolean {
  if (c.gpc || c.tcf === 'no_purpose1' || GPP_DENIES.has(c.gpp)) return false;
  return c.tcf === 'purpose1' || c.gpp === 'tcf_purpose1' || c.consentDefault === 'granted';
}
function allowed(c: Case): boolean {
  if (c.gpc || c.tcf === 'no_purpose1' || GPP_DENIES.has(c.gpp) || c.call === 'denied')
    return false;
  if (c.call === 'granted' || c.tcf === 'purpose1' || c.gpp === 'tcf_purpose1') return true;
  return c.consentDefault === 'granted';
}

const TCF_WITH = tcfString([1, 2, 3, 4]);
const TCF_WITHOUT = tcfString([2, 3, 4]);

function macros(c: Case): string {
  if (c.gpp !== 'none') return `&${GPP[c.gpp]}`;
  if (c.tcf === 'none') return '';
  return `&gdpr=1&gdpr_consent=${c.tcf === 'purpose1' ? TCF_WITH : TCF_WITHOUT}`;
}

let hook: Receiver;
let server: Server;
let base: string;

interface Outcome {
  cookie: string | null;
  eventId: string;
}
const outcomes = new Map<number, Outcome>();

beforeAll(async () => {
  hook = await startReceiver(() => 200);
  // Each case's browser has its own address, so no case is matched by another's IP.
  const cfg = { ...testConfig(`${hook.url}/hook`), trust_proxy: true };
  const granted = cfg.environments[0];
  const denied = {
    ...granted,
    id: 'env_eu',
    write_key: 'wk_eu',
    consent_default: 'denied',
  };
  ({ server, base } = await startPixeltrail(
    { ...cfg, environments: [granted, denied] },
    tempDir(),
  ));
  for (const c of CASES) {
    const env = c.consentDefault === 'granted' ? 'env_t' : 'env_eu';
    const headers: Record<string, string> = {
      'user-agent': UA,
      'x-forwarded-for': `198.51.100.${c.n + 1}`,
    };
    if (c.gpc) headers['sec-gpc'] = '1';
    const res = await fetch(`${base}/i?env_id=${env}&dest_id=dsp1&imp_id=IMP-M${c.n}${macros(c)}`, {
      headers,
    });
    await res.arrayBuffer();
    const cookie = /ptid=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? null;
    await server.services.pipeline.flush();
    const eventId = `ord-m${c.n}`;
    const consent =
      c.call === 'none'
        ? undefined
        : c.call === 'granted'
          ? { ads: true, analytics: true }
          : { ads: false, analytics: false };
    // The tag's beacon, with the page's first-party id; a consenting browser has the cookie.
    const beacon = await fetch(`${base}/e?${macros(c).slice(1)}`, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'text/plain',
        ...(cookie ? { cookie: `ptid=${cookie}` } : {}),
      },
      body: JSON.stringify({
        events: [
          {
            event_name: 'Purchase',
            event_id: eventId,
            env_id: env,
            user: { anonymous_id: `anon-matrix-${c.n}` },
            properties: { value: 10, currency: 'EUR' },
            consent,
          },
        ],
      }),
    });
    expect(beacon.status).toBe(204);
    outcomes.set(c.n, { cookie, eventId });
  }
  await server.services.pipeline.flush();
});

afterAll(async () => {
  await server?.close();
  await hook?.close();
});

async function storedEvent(env: string, eventId: string) {
  return storedByKey(server.services.store, env, 'Purchase', eventId);
}

describe('consent matrix', () => {
  it.each(
    CASES.map(
      (c) =>
        [
          `${c.n} default ${c.consentDefault}, call ${c.call}, gpc ${c.gpc}, tcf ${c.tcf}, gpp ${c.gpp}`,
          c,
        ] as const,
    ),
  )('M %s', async (_name, c) => {
    const env = c.consentDefault === 'granted' ? 'env_t' : 'env_eu';
    const o = outcomes.get(c.n) as Outcome;
    const ok = allowed(c);
    const impOk = impressionAllowed(c);
    // Stored: a cookie and a touch only with consent; the event always (counted), with its consent.
    expect(o.cookie !== null).toBe(impOk);
    const touches = await server.services.store.ingest((tx) =>
      tx.findTouches({ env_id: env, anonymous_ids: [], touch_ids: [`IMP-M${c.n}`], since: 0 }),
    );
    expect(touches.length).toBe(impOk ? 1 : 0);
    const ev = await storedEvent(env, o.eventId);
    expect(ev).not.toBeNull();
    expect(ev?.event.consent.ads !== false).toBe(ok);
    expect(ev?.event.consent.signals).toBeInstanceOf(Array);
    if (c.gpp.startsWith('us') && GPP_DENIES.has(c.gpp))
      expect(ev?.event.consent.signals).toContain('gpp_opt_out');
    if (c.gpp === 'tcf_no_purpose1')
      expect(ev?.event.consent.signals).toContain('tcf_no_purpose_1');
    // Attributed: only with consent, and then to this browser's own impression.
    const conv = (
      await admin(base, `/api/conversions?env_id=${env}&limit=1000`)
    ).body.conversions.find((x: { event_id: string }) => x.event_id === o.eventId);
    expect(conv).toBeDefined();
    if (ok && impOk) expect(conv.attribution).toMatchObject({ imp_id: `IMP-M${c.n}` });
    else expect(conv.attribution).toBeNull();
    if (!ok) expect(conv.reason).toBe('ads consent denied');
    // Delivered: only with consent; a denied conversion never gets an outbox row.
    const rows = (await admin(base, `/api/deliveries?env_id=${env}&limit=1000`)).body.deliveries;
    const row = rows.find((d: { conversion_id: string }) => d.conversion_id === conv.conversion_id);
    if (ok && impOk) {
      await waitFor(() => hook.got.some((r) => JSON.parse(r.body).event_id === o.eventId));
    } else expect(row).toBeUndefined();
  });

  it('M-all the matrix has both outcomes, and no denied case reached the webhook', async () => {
    const delivered = (c: Case) => allowed(c) && impressionAllowed(c);
    expect(CASES.filter(delivered).length).toBeGreaterThan(0);
    expect(CASES.filter((c) => !delivered(c)).length).toBeGreaterThan(0);
    const denied = new Set(CASES.filter((c) => !delivered(c)).map((c) => `ord-m${c.n}`));
    expect(hook.got.filter((r) => denied.has(JSON.parse(r.body).event_id))).toEqual([]);
  });
});
