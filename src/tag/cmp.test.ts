import { GppModel } from '@iabgpp/cmpapi';
import { describe, expect, it } from 'vitest';
import { gppString, gppTcf } from '../../test/helpers/gpp.js';
import { type CmpConsent, followCmp } from './cmp.js';

/** Everything the tag would apply, given what a CMP answers. */
function applied(w: Parameters<typeof followCmp>[0]): CmpConsent[] {
  const out: CmpConsent[] = [];
  followCmp(w, (c) => out.push(c));
  return out;
}
const tcf = (...answers: unknown[]) => ({
  __tcfapi: (_c: string, _v: number, cb: (d: unknown, ok: boolean) => void) => {
    for (const a of answers) cb(a, true);
  },
});
const gpp = (applicableSections: number[], sections: Record<string, Record<string, unknown>>) => ({
  __gpp: (_c: string, cb: (d: unknown, ok: boolean) => void) =>
    cb(
      {
        eventName: 'signalStatus',
        pingData: {
          signalStatus: 'ready',
          applicableSections,
          parsedSections: new GppModel(gppString(sections)).toObject(),
        },
      },
      true,
    ),
});

describe('following a CMP', () => {
  it('CM01 TCF: banner shown applies nothing; purpose 1 decides both; gdprApplies false clears', () => {
    expect(
      applied(
        tcf(
          { eventStatus: 'cmpuishown', gdprApplies: true },
          {
            eventStatus: 'useractioncomplete',
            gdprApplies: true,
            purpose: { consents: { 1: true } },
          },
          {
            eventStatus: 'useractioncomplete',
            gdprApplies: true,
            purpose: { consents: { 2: true } },
          },
          { eventStatus: 'tcloaded', gdprApplies: false },
        ),
      ),
    ).toEqual([{ ads: true, analytics: true }, { ads: false, analytics: false }, {}]);
  });

  it('CM02 GPP: the applicable EU section decides by purpose 1', () => {
    expect(applied(gpp([2], { tcfeuv2: gppTcf([1]) }))).toEqual([{ ads: true, analytics: true }]);
    expect(applied(gpp([2], { tcfeuv2: gppTcf([2]) }))).toEqual([{ ads: false, analytics: false }]);
  });

  it('CM03 GPP: a US opt-out denies ads; none leaves the default', () => {
    expect(applied(gpp([8], { usca: { SharingOptOut: 1 } }))).toEqual([{ ads: false }]);
    expect(applied(gpp([7], { usnat: { SaleOptOut: 2 } }))).toEqual([{}]);
  });

  it('CM04 no CMP on the page: nothing followed', () => {
    expect(followCmp({}, () => undefined)).toBe(false);
  });
});
