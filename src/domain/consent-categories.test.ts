import { describe, expect, it } from 'vitest';
import {
  consentFromChoices,
  DEFAULT_CONSENT_CATEGORIES,
  withChoices,
} from './consent-categories.js';

const ONETRUST = { ads: ['C0004'], analytics: ['C0002'] };

describe('consent by category', () => {
  it('CC01 the named categories decide, in any case; others say nothing', () => {
    expect(
      consentFromChoices({ advertising: true, ANALYTICS: false }, DEFAULT_CONSENT_CATEGORIES),
    ).toEqual({ ads: true, analytics: false });
    expect(consentFromChoices({ Functional: true }, DEFAULT_CONSENT_CATEGORIES)).toEqual({
      ads: null,
      analytics: null,
    });
    expect(consentFromChoices({ C0004: false, C0002: true }, ONETRUST)).toEqual({
      ads: false,
      analytics: true,
    });
  });

  it('CC02 two ids for one purpose: a refusal of either refuses it', () => {
    const c = consentFromChoices(
      { Advertising: true, Marketing: false },
      DEFAULT_CONSENT_CATEGORIES,
    );
    expect(c.ads).toBe(false);
  });

  it('CC03 `*` answers for every category not named', () => {
    expect(consentFromChoices({ '*': true }, ONETRUST)).toEqual({ ads: true, analytics: true });
    expect(consentFromChoices({ '*': false, C0002: true }, ONETRUST)).toEqual({
      ads: false,
      analytics: true,
    });
  });

  it('CC04 choices fill what the caller stated only where they speak', () => {
    const stated = { ads: null, analytics: true };
    expect(withChoices(stated, { C0004: false }, ONETRUST)).toEqual({
      ads: false,
      analytics: true,
    });
    expect(withChoices(stated, undefined, ONETRUST)).toBe(stated);
  });
});
