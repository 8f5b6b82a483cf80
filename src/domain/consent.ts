/**
 * Consent, decided in one place. Every entry point (pixels, click links, the tag's beacon, the
 * server API) turns what it saw into `ConsentSignals`, and `decideConsent` answers the consent
 * the hit is stored with. What a denial forbids is read from that stored consent alone, by
 * `adsPermitted`: no cookie, no touch kept, no identity link, no attribution, no delivery.
 */
import { checkTcf, readGpp, usPrivacyOptedOut } from './consent-strings.js';
import type { Consent } from './event.js';

/** What an environment assumes when a visitor has said nothing (EU sites: `denied`). */
export type ConsentDefault = 'granted' | 'denied';

/** Everything a request says about consent. */
export interface ConsentSignals {
  /** What the tag's consent call or the event body stated (`null`: nothing). */
  stated: Pick<Consent, 'ads' | 'analytics'>;
  consentDefault: ConsentDefault;
  /** `Sec-GPC: 1`, or `DNT: 1` where the environment honours it: opt-out of sale/sharing. */
  gpc: boolean;
  /** The `gdpr` macro: `1` when GDPR applies, `0` when not, absent when unknown. */
  gdpr?: string;
  /** The `gdpr_consent` macro: an IAB TCF v2 string. */
  gdprConsent?: string;
  usPrivacy?: string;
  gpp?: string;
  gppSid?: string;
  /** Our IAB vendor id, when the environment names one: its consent is then required too. */
  tcfVendorId: number | null;
}

/**
 * Decides the consent a hit is stored with. Denials win over grants: a TCF string without
 * purpose 1, GPC, a US Privacy or GPP opt-out, an explicit `ads: false`, or (with nothing
 * stated) a `denied` default each make `ads` false. A TCF string that grants counts as a
 * statement when the tag stated nothing. `signals` records why, for the stored event.
 */
export function decideConsent(s: ConsentSignals): Consent {
  const signals: string[] = [];
  let ads = s.stated.ads;
  let analytics = s.stated.analytics;
  if (ads !== null || analytics !== null) signals.push('stated');
  // Told apart from a US opt-out of sale, which Limited Data Use may still serve.
  if (ads === false) signals.push('stated_ads_denied');
  const gpp = readGpp(s.gpp, s.gppSid);
  if (!gpp.valid) signals.push('gpp_invalid');
  const tcfString = s.gdprConsent ?? gpp.tcf;
  // The gdpr macro decides whether TCF applies; without it, GPP's EU section (present, or
  // named in gpp_sid) does, and its TCF string counts as gdpr_consent.
  const gdprApplies = s.gdpr === '1' || (s.gdpr === undefined && gpp.gdprApplies);
  let tcfDenied = false;
  if (gdprApplies) {
    const tcf = checkTcf(tcfString, s.tcfVendorId);
    if (tcf.ok) {
      signals.push('tcf_granted');
      ads ??= true;
      analytics ??= true;
    } else {
      signals.push(tcf.reason);
      tcfDenied = true;
    }
  }
  if (ads === null && analytics === null && s.consentDefault === 'denied') {
    signals.push('default_denied');
    ads = false;
    analytics = false;
  }
  if (s.gpc) signals.push('gpc');
  if (usPrivacyOptedOut(s.usPrivacy)) signals.push('us_privacy_opt_out');
  if (gpp.optedOut) signals.push('gpp_opt_out');
  const optedOut = s.gpc || usPrivacyOptedOut(s.usPrivacy) || gpp.optedOut;
  if (tcfDenied || optedOut) ads = false;
  // Without purpose 1 nothing may be stored on the device, whatever the purpose.
  if (tcfDenied) analytics = false;
  return { ads, analytics, signals };
}

/**
 * Whether a hit with this consent may be used for ads: keep a cookie, keep its touch for
 * attribution, link identities, attribute, deliver to ad platforms. Unknown (`null`) permits,
 * because `decideConsent` has already applied the environment's default.
 */
export function adsPermitted(consent: Pick<Consent, 'ads'>): boolean {
  return consent.ads !== false;
}

/** US state-law opt-outs of the sale or sharing of data (GPC, US Privacy, GPP US sections). */
const SALE_OPT_OUTS = new Set(['gpc', 'us_privacy_opt_out', 'gpp_opt_out']);

/**
 * True when ads were denied only by a US opt-out of sale or sharing: no stated denial, no
 * denied default, no TCF refusal. Such an event may still reach a platform under its
 * Limited Data Use mode when the operator opts for it (Meta `data_processing_options`).
 */
export function saleOptOutOnly(consent: Consent): boolean {
  if (consent.ads !== false) return false;
  const signals = consent.signals ?? [];
  const hard = signals.some(
    (x) => x === 'stated_ads_denied' || x === 'default_denied' || /^tcf_(?!granted)/.test(x),
  );
  return !hard && signals.some((x) => SALE_OPT_OUTS.has(x));
}

/**
 * Whether a destination sends this event under Limited Data Use: its settings opt for it
 * (`limited_data_use: true`) and ads were denied only by a US opt-out of sale.
 */
export function underLimitedDataUse(settings: Record<string, unknown>, consent: Consent): boolean {
  return settings.limited_data_use === true && saleOptOutOnly(consent);
}
