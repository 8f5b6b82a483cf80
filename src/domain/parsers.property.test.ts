/**
 * Property-based tests (fast-check) of every parser that reads outside input: event bodies,
 * consent strings (TCF, US Privacy, GPP), query-string signatures, URLs, postback URL
 * templates, IPs and log text. Each must never throw, and must keep its promise on any input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gppString } from '../../test/helpers/gpp.js';
import { tcfString } from '../../test/helpers/tcf.js';
import { fillTemplate, POSTBACK_MACROS } from '../delivery/destinations/postback.js';
import { canonicalClickQuery, signClick, verifyClick } from './click-link.js';
import { adsPermitted, decideConsent } from './consent.js';
import { checkTcf, readGpp, usPrivacyOptedOut } from './consent-strings.js';
import { protectIp, truncateIp } from './ip-privacy.js';
import { redactText } from './redact-text.js';
import { scrubUrl } from './url-scrub.js';
import { validateEvent } from './validation.js';

const RUNS = { numRuns: 500 };
const NOW_MS = 1_763_900_000_000;

describe('event bodies', () => {
  it('F01 validateEvent never throws; emails and phones never come out in clear', () => {
    const user = fc.record(
      {
        email: fc.oneof(fc.emailAddress(), fc.string()),
        phone: fc.oneof(fc.string(), fc.stringMatching(/^\+?[0-9 ()-]{7,20}$/)),
        user_id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.anything(),
      fc.record(
        {
          event_name: fc.oneof(fc.string(), fc.constant('Purchase'), fc.anything()),
          event_id: fc.oneof(fc.string(), fc.integer()),
          event_time: fc.oneof(fc.integer(), fc.string(), fc.double()),
          user: fc.oneof(user, fc.anything()),
          properties: fc.oneof(
            fc.record(
              {
                value: fc.oneof(fc.double(), fc.string()),
                currency: fc.string(),
                url: fc.oneof(fc.webUrl({ withQueryParameters: true }), fc.string()),
              },
              { requiredKeys: [] },
            ),
            fc.anything(),
          ),
          consent: fc.anything(),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(body, (raw) => {
        const r = validateEvent(raw, {
          nowMs: NOW_MS,
          source: 'server',
          envId: 'env',
          newId: () => 'id',
        });
        if (!r.ok) {
          expect(r.errors.length).toBeGreaterThan(0);
          for (const e of r.errors) expect(typeof e.field).toBe('string');
          return;
        }
        const text = JSON.stringify(r.event);
        const u = (raw as { user?: { email?: unknown; phone?: unknown } }).user;
        if (typeof u?.email === 'string' && u.email.includes('@') && u.email.length > 3)
          expect(text).not.toContain(JSON.stringify(u.email));
        expect(r.event.event_time).toBeTypeOf('number');
      }),
      RUNS,
    );
  });
});

describe('consent strings', () => {
  it('F02 TCF, US Privacy and GPP parsers never throw on any text', () => {
    const text = fc.oneof(
      fc.string(),
      fc.base64String(),
      fc.stringMatching(/^[A-Za-z0-9_.~-]{0,80}$/),
    );
    fc.assert(
      fc.property(text, text, fc.option(fc.integer({ min: 1, max: 5000 })), (a, b, vendor) => {
        expect(checkTcf(a, vendor ?? null).ok).toBeTypeOf('boolean');
        expect(usPrivacyOptedOut(a)).toBeTypeOf('boolean');
        expect(readGpp(`${b}~${a}`, undefined).valid).toBeTypeOf('boolean');
        expect(readGpp(a, b).optedOut).toBeTypeOf('boolean');
      }),
      RUNS,
    );
  });

  it('F02b the GPP parser never throws on GPP-shaped text, on any header bits, or any gpp_sid', () => {
    const b64 = fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/);
    const gpp = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.constantFrom('DBA', 'DBB', 'D', ''),
          b64,
          fc.array(fc.oneof(b64, fc.string()), { maxLength: 6 }),
        )
        .map(([h, rest, sections]) => [h + rest, ...sections].join('~')),
    );
    const sid = fc.option(
      fc.oneof(
        fc.string(),
        fc.array(fc.integer({ min: -1, max: 30 })).map((a) => a.join(',')),
      ),
    );
    fc.assert(
      fc.property(gpp, sid, (g, s) => {
        const v = readGpp(g, s ?? undefined);
        expect(v.valid).toBeTypeOf('boolean');
        expect(v.optedOut).toBeTypeOf('boolean');
        expect(v.gdprApplies).toBeTypeOf('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('F02c a real GPP string opts out exactly when an applicable US section has a 1 in an opt-out field', () => {
    const SECTIONS: Record<string, string[]> = {
      usnat: ['SaleOptOut', 'SharingOptOut', 'TargetedAdvertisingOptOut'],
      usca: ['SaleOptOut', 'SharingOptOut'],
      usva: ['SaleOptOut', 'TargetedAdvertisingOptOut'],
      usco: ['SaleOptOut', 'TargetedAdvertisingOptOut'],
      usut: ['SaleOptOut', 'TargetedAdvertisingOptOut'],
      usct: ['SaleOptOut', 'TargetedAdvertisingOptOut'],
    };
    const IDS: Record<string, number> = {
      usnat: 7,
      usca: 8,
      usva: 9,
      usco: 10,
      usut: 11,
      usct: 12,
    };
    const choice = fc.dictionary(
      fc.constantFrom(...Object.keys(SECTIONS)),
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }),
      { minKeys: 1 },
    );
    fc.assert(
      fc.property(choice, fc.option(fc.subarray(Object.values(IDS))), (chosen, sid) => {
        const sections: Record<string, Record<string, number>> = {};
        for (const [name, values] of Object.entries(chosen))
          sections[name] = Object.fromEntries(SECTIONS[name].map((f, i) => [f, values[i]]));
        // An empty gpp_sid is no gpp_sid: every section present applies.
        const named = sid !== null && sid.length > 0 ? sid : null;
        const applies = (name: string) => named === null || named.includes(IDS[name]);
        const want = Object.entries(sections).some(
          ([name, fields]) => applies(name) && Object.values(fields).includes(1),
        );
        const v = readGpp(gppString(sections), named?.join(','));
        expect(v).toEqual({ valid: true, gdprApplies: false, optedOut: want });
      }),
      { numRuns: 300 },
    );
  });

  it('F03 a real TCF string passes exactly when purpose 1 (and the named vendor) consent', () => {
    const purposes = fc.uniqueArray(fc.integer({ min: 1, max: 11 }), { maxLength: 11 });
    const vendors = fc.subarray([1, 755, 4242]);
    fc.assert(
      fc.property(purposes, vendors, fc.constantFrom(null, 755), (p, v, vendorId) => {
        const verdict = checkTcf(tcfString(p, v), vendorId);
        const want = p.includes(1) && (vendorId === null || v.includes(vendorId));
        expect(verdict.ok).toBe(want);
      }),
      { numRuns: 100 },
    );
  });

  it('F04 an opt-out signal never turns a denial into a grant', () => {
    const flag = fc.constantFrom(true, false, null);
    fc.assert(
      fc.property(
        flag,
        flag,
        fc.constantFrom('granted', 'denied') as fc.Arbitrary<'granted' | 'denied'>,
        fc.boolean(),
        fc.option(fc.constantFrom('1YYN', '1YNN', '1---', 'junk')),
        (ads, analytics, consentDefault, gpc, usPrivacy) => {
          const base = { stated: { ads, analytics }, consentDefault, tcfVendorId: null };
          const without = decideConsent({ ...base, gpc: false });
          const withOptOut = decideConsent({ ...base, gpc, usPrivacy: usPrivacy ?? undefined });
          if (!adsPermitted(without)) expect(adsPermitted(withOptOut)).toBe(false);
          if (gpc) expect(adsPermitted(withOptOut)).toBe(false);
        },
      ),
      RUNS,
    );
  });
});

describe('query strings and URLs', () => {
  const params = fc.dictionary(
    fc.string({ minLength: 1, maxLength: 20 }).filter((k) => k !== 'sig'),
    fc.string({ maxLength: 40 }),
  );

  it('F05 a signed query verifies in any order; any change to a value breaks it', () => {
    fc.assert(
      fc.property(params, fc.string({ minLength: 1 }), (p, secret) => {
        const sig = signClick(secret, p);
        const shuffled = Object.fromEntries(Object.entries(p).reverse());
        expect(verifyClick(secret, { ...shuffled, sig })).toBe(true);
        const keys = Object.keys(p);
        if (keys.length > 0) {
          const tampered = { ...p, [keys[0]]: `${p[keys[0]]}x`, sig };
          expect(verifyClick(secret, tampered)).toBe(false);
        }
        expect(canonicalClickQuery(p).split('&').length).toBe(Math.max(1, keys.length));
      }),
      RUNS,
    );
  });

  it('F06 scrubUrl removes every email, keeps other parameters, and is idempotent', () => {
    const safeKey = fc
      .stringMatching(/^[a-z]{1,8}$/)
      .filter((k) => !['name', 'mail', 'tel', 'pass', 'pwd', 'zip', 'dob', 'ssn'].includes(k));
    fc.assert(
      fc.property(
        fc.webUrl(),
        fc.emailAddress(),
        safeKey,
        fc.stringMatching(/^[a-z0-9]{1,8}$/),
        (url, email, key, value) => {
          const u = new URL(url);
          u.searchParams.set('contact', email);
          u.searchParams.set(`k${key}`, value);
          const out = scrubUrl(u.toString());
          expect(decodeURIComponent(out)).not.toContain(email);
          expect(new URL(out).searchParams.get(`k${key}`)).toBe(value);
          expect(scrubUrl(out)).toBe(out);
        },
      ),
      RUNS,
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(scrubUrl(s)).toBeTypeOf('string');
      }),
      RUNS,
    );
  });

  it('F07 postback templates: every macro is replaced and values are URL-encoded', () => {
    const values = fc.record(
      Object.fromEntries(POSTBACK_MACROS.map((m) => [m, fc.string({ maxLength: 20 })])),
    ) as fc.Arbitrary<Record<string, string>>;
    fc.assert(
      fc.property(values, fc.string({ maxLength: 30 }), (v, text) => {
        const template = `https://dsp.example/pb?${POSTBACK_MACROS.map((m) => `${m}={${m}}`).join('&')}&t=${encodeURIComponent(text)}`;
        const out = fillTemplate(template, v as never);
        for (const m of POSTBACK_MACROS) expect(out).not.toContain(`{${m}}`);
        const q = new URL(out).searchParams;
        for (const m of POSTBACK_MACROS) expect(q.get(m)).toBe(v[m]);
      }),
      RUNS,
    );
  });
});

describe('IPs and log text', () => {
  it('F08 IP protection never throws and never returns the address in hmac mode', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
        fc.string({ minLength: 1 }),
        (ip, key) => {
          const h = protectIp(ip, 'hmac', key);
          expect(h.startsWith('h:') && h.length === 24).toBe(true);
          if (ip.length > 4) expect(h).not.toContain(ip);
          expect(truncateIp(ip)).toBeTypeOf('string');
        },
      ),
      RUNS,
    );
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(truncateIp(truncateIp(ip))).toBe(truncateIp(ip));
      }),
      RUNS,
    );
  });

  it('F09 redactText never lets an email or IPv4 address through', () => {
    fc.assert(
      fc.property(fc.emailAddress(), fc.ipV4(), fc.string(), (email, ip, noise) => {
        const out = redactText(`${noise} ${email} ${noise} ${ip} ${noise}`);
        expect(out).not.toContain(email);
        expect(out).not.toContain(` ${ip} `);
      }),
      RUNS,
    );
  });
});
