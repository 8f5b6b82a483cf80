import { describe, expect, it } from 'vitest';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import { decideConsent } from '../../domain/consent.js';
import { requestConsent } from './consent.js';

const env = (consent_default: 'granted' | 'denied') =>
  ({ consent_default, honor_dnt: true, tcf_vendor_id: null }) as unknown as EnvironmentConfig;
const plain = { headers: {} };

describe('the consent of a browser request', () => {
  it('RC01 a request with no signal gets what deciding its default gives, a fresh object each time', () => {
    for (const d of ['granted', 'denied'] as const) {
      const expected = decideConsent({
        stated: { ads: null, analytics: null },
        consentDefault: d,
        gpc: false,
        tcfVendorId: null,
      });
      const first = requestConsent(plain, env(d));
      expect(first).toEqual(expected);
      first.signals?.push('changed by a caller');
      first.ads = !first.ads;
      expect(requestConsent(plain, env(d))).toEqual(expected);
    }
  });

  it('RC02 any signal is decided: Sec-GPC, DNT where honoured, a consent macro, a stated choice', () => {
    expect(requestConsent({ headers: { 'sec-gpc': '1' } }, env('granted')).ads).toBe(false);
    expect(requestConsent({ headers: { dnt: '1' } }, env('granted')).signals).toContain('gpc');
    expect(requestConsent(plain, env('granted'), undefined, { us_privacy: '1YYN' }).ads).toBe(
      false,
    );
    expect(requestConsent(plain, env('denied'), { ads: true, analytics: null }).ads).toBe(true);
  });
});
