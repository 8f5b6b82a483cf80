/**
 * Real IAB GPP strings for tests, made with the IAB's own encoder (`@iabgpp/cmpapi`): each
 * section is given by its name (`tcfeuv2`, `uspv1`, `usnat`, `usca`, …) and its field values.
 */
import { GppModel } from '@iabgpp/cmpapi';

/** A GPP string holding `sections` (section name → field name → value). */
export function gppString(sections: Record<string, Record<string, unknown>>): string {
  const model = new GppModel();
  for (const [section, fields] of Object.entries(sections))
    for (const [field, value] of Object.entries(fields)) model.setFieldValue(section, field, value);
  return model.encode();
}

/** The EU TCF section consenting to `purposes` (1–24) and `vendors`. */
export function gppTcf(purposes: number[], vendors: number[] = []): Record<string, unknown> {
  return {
    CmpId: 10,
    CmpVersion: 1,
    VendorListVersion: 100,
    PurposeConsents: Array.from({ length: 24 }, (_, i) => purposes.includes(i + 1)),
    VendorConsents: vendors,
  };
}
