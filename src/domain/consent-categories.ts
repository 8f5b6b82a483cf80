/**
 * Consent given by category, as CMPs and analytics libraries report it: Segment's
 * `context.consent.categoryPreferences` (category id → true/false) and Snowplow's Enhanced
 * Consent `consent_preferences` event (the accepted `consentScopes`). Category ids are the
 * site's own, so the environment says which of them mean ads and which analytics.
 */
import type { Consent } from './event.js';

/** Category ids (any case) meaning ads use and analytics use. */
export interface ConsentCategories {
  ads: string[];
  analytics: string[];
}

/** Segment's documented example ids, and the scope names Snowplow's docs use. */
export const DEFAULT_CONSENT_CATEGORIES: ConsentCategories = {
  ads: ['Advertising', 'Advertisement', 'Marketing'],
  analytics: ['Analytics'],
};

/** Category id → consented; `*` stands for every category not named (allow all, deny all). */
export type ConsentChoices = Record<string, boolean>;

/** Every category the person did not choose: `*`. */
export const ALL_CATEGORIES = '*';

function decide(choices: ConsentChoices, names: string[]): boolean | null {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const said = Object.entries(choices)
    .filter(([k]) => k !== ALL_CATEGORIES && wanted.has(k.toLowerCase()))
    .map(([, v]) => v);
  // Two ids for one purpose (say Advertising and Marketing): a refusal of either refuses it.
  if (said.length > 0) return !said.includes(false);
  return choices[ALL_CATEGORIES] ?? null;
}

/** The stated consent these choices make: `null` for a purpose none of them speaks to. */
export function consentFromChoices(
  choices: ConsentChoices,
  categories: ConsentCategories,
): Pick<Consent, 'ads' | 'analytics'> {
  return { ads: decide(choices, categories.ads), analytics: decide(choices, categories.analytics) };
}

/** What the caller stated, with what the category choices say filling each purpose. */
export function withChoices(
  stated: Consent,
  choices: ConsentChoices | undefined,
  categories: ConsentCategories,
): Consent {
  if (!choices) return stated;
  const c = consentFromChoices(choices, categories);
  return { ...stated, ads: c.ads ?? stated.ads, analytics: c.analytics ?? stated.analytics };
}
