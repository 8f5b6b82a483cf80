/**
 * Following the page's consent management platform: the IAB TCF v2 API (`__tcfapi`), else the
 * IAB GPP API (`__gpp`). Each answer, and each later change, is applied like
 * `pixeltrail('consent', …)`.
 */

/** What the tag's consent command takes. */
export interface CmpConsent {
  ads?: boolean;
  analytics?: boolean;
}

type Listener = (data: any, success: boolean) => void;

interface CmpWindow {
  __tcfapi?: (command: string, version: number, callback: Listener) => void;
  __gpp?: (command: string, callback: Listener) => void;
}

/** US section fields where 1 means opted out (GPP US National and state sections). */
const US_OPT_OUTS = ['SaleOptOut', 'SharingOptOut', 'TargetedAdvertisingOptOut'];

/** A GPP answer: its EU TCF section's purpose 1, else the US sections' opt-outs. */
function fromGpp(ping: any): CmpConsent | undefined {
  if (ping?.signalStatus !== 'ready') return undefined;
  const sections = ping.parsedSections || {};
  const eu = sections.tcfeuv2;
  // Section 2 is the EU TCF section (GPP spec, "Section Information").
  if (eu && (ping.applicableSections || []).includes(2)) {
    const storage = !!(eu.PurposeConsents || [])[0];
    return { ads: storage, analytics: storage };
  }
  let optedOut = false;
  for (const name in sections) {
    const s = sections[name] || {};
    if (name.indexOf('us') === 0)
      optedOut ||= US_OPT_OUTS.some((f) => s[f] === 1) || s.Gpc === true || s.OptOutSale === 'Y';
  }
  // An opt-out regime: without an opt-out the environment's default stands.
  return optedOut ? { ads: false } : {};
}

/** Starts following the CMP, when the page has one; true when it does. */
export function followCmp(w: CmpWindow, apply: (consent: CmpConsent) => void): boolean {
  if (w.__tcfapi) {
    w.__tcfapi('addEventListener', 2, (tc, ok) => {
      // cmpuishown: the banner is up and nothing is decided yet.
      if (!ok || !tc || tc.eventStatus === 'cmpuishown') return;
      if (tc.gdprApplies === false) return apply({});
      const storage = !!tc.purpose?.consents?.[1];
      apply({ ads: storage, analytics: storage });
    });
    return true;
  }
  if (w.__gpp) {
    w.__gpp('addEventListener', (event, ok) => {
      const consent = ok && event ? fromGpp(event.pingData) : undefined;
      if (consent) apply(consent);
    });
    return true;
  }
  return false;
}
