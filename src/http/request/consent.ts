import type { EnvironmentConfig } from '../../domain/config-types.js';
import { adsPermitted, decideConsent } from '../../domain/consent.js';
import type { Consent } from '../../domain/event.js';
import type { BrowserRequest } from './identity.js';
import { type Query, queryValue } from './query.js';

/**
 * The consent of a request that states nothing (no consent macro, no `Sec-GPC`/`DNT`, nothing
 * stated), per default: most pixel hits carry no consent signal, and deciding it anew cost a
 * third of the impression pixel's own work. A fresh copy each time: callers own their Consent.
 */
const unsignalled = new Map<EnvironmentConfig['consent_default'], Consent>();

function defaultConsent(env: EnvironmentConfig): Consent {
  let c = unsignalled.get(env.consent_default);
  if (!c) {
    c = decideConsent({
      stated: { ads: null, analytics: null },
      consentDefault: env.consent_default,
      gpc: false,
      tcfVendorId: null,
    });
    unsignalled.set(env.consent_default, c);
  }
  return { ads: c.ads, analytics: c.analytics, signals: [...(c.signals ?? [])] };
}

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
  const gdpr = queryValue(query, 'gdpr');
  const gdprConsent = queryValue(query, 'gdpr_consent');
  const usPrivacy = queryValue(query, 'us_privacy');
  const gpp = queryValue(query, 'gpp');
  const gppSid = queryValue(query, 'gpp_sid');
  const gpc = req.headers['sec-gpc'] === '1' || (env.honor_dnt && req.headers.dnt === '1');
  if (
    !gpc &&
    stated.ads === null &&
    stated.analytics === null &&
    gdpr === undefined &&
    gdprConsent === undefined &&
    usPrivacy === undefined &&
    gpp === undefined &&
    gppSid === undefined
  )
    return defaultConsent(env);
  return decideConsent({
    stated,
    consentDefault: env.consent_default,
    gpc,
    gdpr,
    gdprConsent,
    usPrivacy,
    gpp,
    gppSid,
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
