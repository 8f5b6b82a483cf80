import { describe, expect, it } from 'vitest';
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
    expect(readGpp('DBABTA~1YYN', undefined)).toEqual({ valid: true, optedOut: true });
    expect(readGpp('DBABTA~1YNN', undefined)).toEqual({ valid: true, optedOut: false });
    // gpp_sid says which sections apply to this request.
    expect(readGpp('DBABTA~1YYN', '2').optedOut).toBe(false);
  });

  it('C06 GPP header DBABMA carries the EU TCF section (2)', () => {
    const tc = tcfString([1]);
    expect(readGpp(`DBABMA~${tc}`, '2')).toEqual({ valid: true, optedOut: false, tcf: tc });
  });

  it('C07 malformed GPP is invalid, never throws', () => {
    for (const bad of ['', '~', 'DBABTA', 'DBABTA~a~b', '!!!~x', 'A'.repeat(9000)])
      expect(() => readGpp(bad, undefined)).not.toThrow();
    expect(readGpp('DBABTA~a~b', undefined).valid).toBe(false);
  });
});
