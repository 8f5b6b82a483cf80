import { describe, expect, it } from 'vitest';
import { gppString, gppTcf } from '../../test/helpers/gpp.js';
import { tcfString } from '../../test/helpers/tcf.js';
import { checkTcf, readGpp, usPrivacyOptedOut } from './consent-strings.js';

describe('TCF v2 strings (built with @iabtechlabtcf/core)', () => {
  it('C01 consent to purpose 1 passes; without it, it fails', () => {
    expect(checkTcf(tcfString([1, 2, 3]), null)).toEqual({ ok: true });
    expect(checkTcf(tcfString([2, 3]), null)).toEqual({ ok: false, reason: 'tcf_no_purpose_1' });
  });

  it('C02 a named vendor id must have consent too', () => {
    expect(checkTcf(tcfString([1], [755]), 755)).toEqual({ ok: true });
    expect(checkTcf(tcfString([1], [1]), 755)).toEqual({ ok: false, reason: 'tcf_no_vendor' });
  });

  it('C03 missing and malformed strings deny, never throw', () => {
    expect(checkTcf(undefined, null)).toEqual({ ok: false, reason: 'tcf_missing' });
    for (const bad of ['garbage', 'AAAA', '%%%', 'x'.repeat(9000), 'C.'])
      expect(checkTcf(bad, null).ok).toBe(false);
  });
});

describe('US Privacy and GPP', () => {
  it('C04 us_privacy 1YYN is an opt-out of sale; 1YNN and 1--- are not', () => {
    expect(usPrivacyOptedOut('1YYN')).toBe(true);
    expect(usPrivacyOptedOut('1yyy')).toBe(true);
    expect(usPrivacyOptedOut('1YNN')).toBe(false);
    expect(usPrivacyOptedOut('1---')).toBe(false);
    expect(usPrivacyOptedOut('nonsense')).toBe(false);
  });

  it('C05 GPP header DBABTA lists section 6 (US Privacy); its opt-out counts', () => {
    expect(readGpp('DBABTA~1YYN', undefined)).toEqual({
      valid: true,
      gdprApplies: false,
      optedOut: true,
    });
    expect(readGpp('DBABTA~1YNN', undefined).optedOut).toBe(false);
    // gpp_sid says which sections apply to this request.
    expect(readGpp('DBABTA~1YYN', '2').optedOut).toBe(false);
  });

  it('C06 GPP header DBABMA carries the EU TCF section (2)', () => {
    const tc = tcfString([1]);
    expect(readGpp(`DBABMA~${tc}`, '2')).toEqual({
      valid: true,
      gdprApplies: true,
      optedOut: false,
      tcf: tc,
    });
  });

  it('C07 malformed GPP is invalid, never throws', () => {
    for (const bad of ['', '~', 'DBABTA', 'DBABTA~a~b', '!!!~x', 'A'.repeat(9000)])
      expect(() => readGpp(bad, undefined)).not.toThrow();
    expect(readGpp('DBABTA~a~b', undefined).valid).toBe(false);
    expect(readGpp('DBABTA~1Y', undefined)).toMatchObject({ valid: false, optedOut: false });
    expect(readGpp(`DBABrw~garbage~${USNAT_NONE.split('~')[1]}`, undefined).valid).toBe(false);
  });

  it('C08 a 12-character header naming a range of a billion section ids is refused, not expanded', () => {
    // Fibonacci-coded range 1..F(40): @iabgpp/cmpapi's own header decoder would build it whole.
    expect(readGpp('DBAB4AAAAABg~x', undefined)).toMatchObject({ valid: false, optedOut: false });
  });
});

/** The US sections and the field each one opts out with, encoded by @iabgpp/cmpapi. */
const US_OPT_OUTS: [string, string][] = [
  ['usnat', 'SaleOptOut'],
  ['usnat', 'SharingOptOut'],
  ['usnat', 'TargetedAdvertisingOptOut'],
  ['usca', 'SaleOptOut'],
  ['usca', 'SharingOptOut'],
  ['usva', 'TargetedAdvertisingOptOut'],
  ['usco', 'SaleOptOut'],
  ['usut', 'TargetedAdvertisingOptOut'],
  ['usct', 'SaleOptOut'],
  ['ustx', 'TargetedAdvertisingOptOut'],
];
const USNAT_NONE = gppString({ usnat: { SaleOptOut: 2, SharingOptOut: 2 } });

describe('GPP strings (built with @iabgpp/cmpapi)', () => {
  it.each(US_OPT_OUTS)('G01 %s with %s = 1 (opted out) is an opt-out', (section, field) => {
    const gpp = gppString({ [section]: { [field]: 1 } });
    expect(readGpp(gpp, undefined)).toEqual({ valid: true, gdprApplies: false, optedOut: true });
  });

  it.each(US_OPT_OUTS)('G02 %s with %s = 2 (did not opt out) or 0 (n/a) is none', (section, f) => {
    expect(readGpp(gppString({ [section]: { [f]: 2 } }), undefined).optedOut).toBe(false);
    expect(readGpp(gppString({ [section]: { [f]: 0 } }), undefined).optedOut).toBe(false);
  });

  it('G03 the GPC sub-section of usnat set is an opt-out like Sec-GPC', () => {
    const gpc = gppString({ usnat: { SaleOptOut: 2, GpcSegmentIncluded: true, Gpc: true } });
    expect(gpc).toMatch(/~[^.]+\.[A-Za-z0-9_-]+$/);
    expect(readGpp(gpc, undefined).optedOut).toBe(true);
  });

  it('G04 the EU TCF section counts like gdpr_consent: purpose 1 and the named vendor', () => {
    const granted = readGpp(gppString({ tcfeuv2: gppTcf([1, 2], [755]) }), undefined);
    expect(granted).toMatchObject({ valid: true, gdprApplies: true, optedOut: false });
    expect(checkTcf(granted.tcf, null)).toEqual({ ok: true });
    expect(checkTcf(granted.tcf, 755)).toEqual({ ok: true });
    expect(checkTcf(granted.tcf, 1)).toEqual({ ok: false, reason: 'tcf_no_vendor' });
    const refused = readGpp(gppString({ tcfeuv2: gppTcf([2, 3]) }), undefined);
    expect(checkTcf(refused.tcf, null)).toEqual({ ok: false, reason: 'tcf_no_purpose_1' });
  });

  it('G05 gpp_sid picks the sections in force: an opt-out in another section does not count', () => {
    const gpp = gppString({ tcfeuv2: gppTcf([1]), usca: { SaleOptOut: 1 } });
    expect(readGpp(gpp, undefined)).toMatchObject({ gdprApplies: true, optedOut: true });
    expect(readGpp(gpp, '2')).toMatchObject({ gdprApplies: true, optedOut: false });
    expect(readGpp(gpp, '8')).toEqual({ valid: true, gdprApplies: false, optedOut: true });
    expect(readGpp(gpp, '2,8')).toMatchObject({ gdprApplies: true, optedOut: true });
    expect(readGpp(gpp, '2_8')).toMatchObject({ gdprApplies: true, optedOut: true });
  });

  it('G06 gpp_sid naming the EU section without a GPP string says TCF applies, unconsented', () => {
    expect(readGpp(undefined, '2')).toEqual({ valid: true, gdprApplies: true, optedOut: false });
    expect(readGpp(undefined, '7')).toEqual({ valid: true, gdprApplies: false, optedOut: false });
  });

  it('G07 several US sections: one opt-out is enough', () => {
    const gpp = gppString({ usnat: { SaleOptOut: 2 }, usva: { TargetedAdvertisingOptOut: 1 } });
    expect(readGpp(gpp, undefined).optedOut).toBe(true);
    expect(readGpp(USNAT_NONE, undefined)).toEqual({
      valid: true,
      gdprApplies: false,
      optedOut: false,
    });
  });
});
