/**
 * Real IAB TCF v2 strings for tests, made with the IAB's own encoder over a small vendor list
 * (the encoder needs a GVL; the real one is a download, so a minimal one is built here).
 */
import { GVL, TCModel, TCString } from '@iabtechlabtcf/core';

const VENDOR_IDS = [1, 755, 4242];

function miniGvl(): GVL {
  const purposes: Record<string, unknown> = {};
  for (let i = 1; i <= 11; i++)
    purposes[i] = { id: i, name: `p${i}`, description: '', illustrations: [] };
  const vendors: Record<string, unknown> = {};
  for (const id of VENDOR_IDS) {
    vendors[id] = {
      id,
      name: `v${id}`,
      purposes: [1, 2, 3, 4],
      legIntPurposes: [],
      flexiblePurposes: [],
      specialPurposes: [],
      features: [],
      specialFeatures: [],
      policyUrl: '',
      cookieMaxAgeSeconds: null,
      usesCookies: true,
      cookieRefresh: false,
      usesNonCookieAccess: false,
      deviceStorageDisclosureUrl: null,
    };
  }
  return new GVL({
    gvlSpecificationVersion: 3,
    vendorListVersion: 100,
    tcfPolicyVersion: 4,
    lastUpdated: '2025-01-01T00:00:00Z',
    purposes,
    specialPurposes: {},
    features: {},
    specialFeatures: {},
    stacks: {},
    dataCategories: {},
    vendors,
  } as never);
}

/** A TCF v2 string consenting to `purposes` and `vendors`. */
export function tcfString(purposes: number[], vendors: number[] = []): string {
  const model = new TCModel(miniGvl());
  model.cmpId = 10;
  model.cmpVersion = 1;
  model.purposeConsents.set(purposes);
  model.vendorConsents.set(vendors);
  return TCString.encode(model);
}
