import type { EnvironmentConfig } from '../../domain/config-types.js';
import { adsPermitted, decideConsent } from '../../domain/consent.js';
import type { Consent } from '../../domain/event.js';
import type { BrowserRequest } from './identity.js';
import { type Query, queryValue } from './query.js';

/** The ad-tech consent macros a pixel or click link may carry. */
const MACROS = ['gdpr', 'gdpr_consent', 'us_privacy', 'gpp', 'gpp_sid'] as const;

/**
 * The consent of a browser request: what was stated (event body), the request's `Sec-GPC`
 * (and `DNT` where honoured), the consent macros in its query, and the environment's default.
 */
export function requestConsent(
  req: Pick<BrowserRequest, 'headers'>,
  env: EnvironmentConfig,
  stated: Pick<Consent, 'ads' | 'analytics'> = { ads: null, analytics: null },
  query: Query = {},
): Consent {
  const m: Partial<Record<(typeof MACROS)[number], string>> = {};
  for (const k of MACROS) m[k] = queryValue(query, k);
  return decideConsent({
    stated,
    consentDefault: env.consent_default,
    gpc: req.headers['sec-gpc'] === '1' || (env.honor_dnt && req.headers.dnt === '1'),
    gdpr: m.gdpr,
    gdprConsent: m.gdpr_consent,
    usPrivacy: m.us_privacy,
    gpp: m.gpp,
    gppSid: m.gpp_sid,
    tcfVendorId: env.tcf_vendor_id,
  });
}

/**
 * Whether a denied browser request says so itself — a TCF string without purpose 1, a US
 * Privacy or GPP opt-out, `Sec-GPC` — rather than only falling under a `denied` default: a
 * pixel on another site that carries no consent macros withdraws nothing.
 */
export function deniedByRequest(
  req: Pick<BrowserRequest, 'headers'>,
  env: EnvironmentConfig,
  query: Query,
): boolean {
  if (env.consent_default !== 'denied')
    return !adsPermitted(requestConsent(req, env, undefined, query));
  return !adsPermitted(
    requestConsent(req, { ...env, consent_default: 'granted' }, undefined, query),
  );
}
