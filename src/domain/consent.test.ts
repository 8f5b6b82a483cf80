import { describe, expect, it } from 'vitest';
import { gppString, gppTcf } from '../../test/helpers/gpp.js';
import { tcfString } from '../../test/helpers/tcf.js';
import {
  adsPermitted,
  type ConsentSignals,
  decideConsent,
  saleOptOutOnly,
  underLimitedDataUse,
} from './consent.js';

const base: ConsentSignals = {
  stated: { ads: null, analytics: null },
  consentDefault: 'granted',
  gpc: false,
  tcfVendorId: null,
};
const decide = (s: Partial<ConsentSignals>) => decideConsent({ ...base, ...s });

describe('decideConsent', () => {
  it('K01 nothing said: the environment default decides', () => {
    expect(adsPermitted(decide({}))).toBe(true);
    const eu = decide({ consentDefault: 'denied' });
    expect(eu).toMatchObject({ ads: false, analytics: false });
    expect(eu.signals).toContain('default_denied');
  });

  it('K02 a stated grant beats a denied default; a stated denial beats a granted one', () => {
    expect(decide({ consentDefault: 'denied', stated: { ads: true, analytics: true } }).ads).toBe(
      true,
    );
    expect(decide({ stated: { ads: false, analytics: true } }).ads).toBe(false);
  });

  it('K03 GPC, us_privacy and GPP opt-outs deny ads whatever was stated', () => {
    const stated = { ads: true, analytics: true };
    expect(decide({ stated, gpc: true })).toMatchObject({ ads: false, analytics: true });
    expect(decide({ stated, usPrivacy: '1YYN' }).ads).toBe(false);
    expect(decide({ stated, gpp: 'DBABTA~1YYN' }).ads).toBe(false);
  });

  it('K04 gdpr=1 with purpose 1 grants under a denied default; without it everything is denied', () => {
    const granted = decide({ consentDefault: 'denied', gdpr: '1', gdprConsent: tcfString([1]) });
    expect(granted).toMatchObject({ ads: true, analytics: true });
    const refused = decide({
      stated: { ads: true, analytics: true },
      gdpr: '1',
      gdprConsent: tcfString([2, 3]),
    });
    expect(refused).toMatchObject({ ads: false, analytics: false });
    expect(refused.signals).toContain('tcf_no_purpose_1');
    expect(decide({ gdpr: '1' }).signals).toContain('tcf_missing');
  });

  it('K05 gdpr=0 ignores the TCF string', () => {
    expect(decide({ gdpr: '0', gdprConsent: tcfString([2]) }).ads).toBeNull();
  });

  it('K06 the vendor id, when configured, needs its own consent', () => {
    expect(decide({ gdpr: '1', gdprConsent: tcfString([1], [1]), tcfVendorId: 755 }).ads).toBe(
      false,
    );
    expect(decide({ gdpr: '1', gdprConsent: tcfString([1], [755]), tcfVendorId: 755 }).ads).toBe(
      true,
    );
  });

  it('K07 GPP EU section: purpose 1 grants under a denied default; without it all is denied', () => {
    const granted = decide({ consentDefault: 'denied', gpp: gppString({ tcfeuv2: gppTcf([1]) }) });
    expect(granted).toMatchObject({ ads: true, analytics: true });
    expect(granted.signals).toContain('tcf_granted');
    const refused = decide({
      stated: { ads: true, analytics: true },
      gpp: gppString({ tcfeuv2: gppTcf([2, 3]) }),
    });
    expect(refused).toMatchObject({ ads: false, analytics: false });
    expect(refused.signals).toContain('tcf_no_purpose_1');
    // gdpr=0 says TCF does not apply, whatever GPP carries.
    expect(decide({ gdpr: '0', gpp: gppString({ tcfeuv2: gppTcf([2]) }) }).ads).toBeNull();
  });

  it('K08 GPP EU section and the vendor id: the vendor needs its consent there too', () => {
    const gpp = gppString({ tcfeuv2: gppTcf([1], [1]) });
    expect(decide({ gpp, tcfVendorId: 755 })).toMatchObject({ ads: false });
    expect(decide({ gpp: gppString({ tcfeuv2: gppTcf([1], [755]) }), tcfVendorId: 755 }).ads).toBe(
      true,
    );
  });

  it('K09 gpp_sid=2 without a GPP string: TCF applies and is missing, so denied', () => {
    const d = decide({ stated: { ads: true, analytics: true }, gppSid: '2' });
    expect(d).toMatchObject({ ads: false, analytics: false });
    expect(d.signals).toContain('tcf_missing');
  });

  it('K10 a US state opt-out in GPP denies ads like Sec-GPC; analytics stays as stated', () => {
    const d = decide({
      stated: { ads: true, analytics: true },
      gpp: gppString({ usca: { SharingOptOut: 1 } }),
    });
    expect(d).toMatchObject({ ads: false, analytics: true });
    expect(d.signals).toContain('gpp_opt_out');
    expect(decide({ gpp: gppString({ usca: { SharingOptOut: 2 } }) }).ads).toBeNull();
  });
});

describe('Limited Data Use eligibility (issue 20 §3)', () => {
  const decided = (over: Partial<Parameters<typeof decideConsent>[0]>) =>
    decideConsent({
      stated: { ads: null, analytics: null },
      consentDefault: 'granted',
      gpc: false,
      tcfVendorId: null,
      ...over,
    });

  it('C-LDU1 GPC or a US Privacy opt-out alone may go under LDU', () => {
    expect(saleOptOutOnly(decided({ gpc: true }))).toBe(true);
    expect(saleOptOutOnly(decided({ usPrivacy: '1YYN' }))).toBe(true);
  });

  it('C-LDU2 a stated denial, a denied default or a TCF refusal never does', () => {
    expect(saleOptOutOnly(decided({ gpc: true, stated: { ads: false, analytics: null } }))).toBe(
      false,
    );
    expect(saleOptOutOnly(decided({ gpc: true, consentDefault: 'denied' }))).toBe(false);
    expect(saleOptOutOnly(decided({ gpc: true, gdpr: '1' }))).toBe(false);
    expect(saleOptOutOnly(decided({}))).toBe(false);
  });

  it('C-LDU3 only a destination that opts for it sends under LDU', () => {
    const c = decided({ gpc: true });
    expect(underLimitedDataUse({ limited_data_use: true }, c)).toBe(true);
    expect(underLimitedDataUse({}, c)).toBe(false);
  });
});
