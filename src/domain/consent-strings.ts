/**
 * Parsers of the ad-tech consent strings a pixel or click link carries as macros: the IAB
 * TCF v2 string (`gdpr_consent`), the IAB US Privacy string (`us_privacy`) and the IAB Global
 * Privacy Platform string (`gpp`, with `gpp_sid`). Each answers what matters to us — may we
 * store an id and use the hit for ads — and never throws on malformed input.
 */
import { GppModel, Sections } from '@iabgpp/cmpapi';
import { TCString } from '@iabtechlabtcf/core';
import { BitReader, toBits } from './consent-bits.js';
import { tcfRangeIdsWithin } from './tcf-ranges.js';

/** TCF purpose 1: "Store and/or access information on a device" (TCF v2.2 policy, Appendix A). */
export const TCF_STORAGE_PURPOSE = 1;
/** Longest consent string read; real TCF strings with vendor lists run to a few KB. */
export const MAX_CONSENT_STRING_CHARS = 8192;
/**
 * Most vendor ids a TCF string's ranges may name in all (consents, legitimate interests,
 * publisher restrictions, disclosed vendors). Vendor ids are 16 bits and a real string names
 * each at most once per section, so four full sections fit.
 */
const MAX_TCF_RANGE_IDS = 4 * 65_536;

/** What a TCF v2 string allows. */
export type TcfVerdict =
  | { ok: true }
  | { ok: false; reason: 'tcf_missing' | 'tcf_invalid' | 'tcf_no_purpose_1' | 'tcf_no_vendor' };

/**
 * Checks a TCF v2 string: consent to purpose 1 is required, and consent for our vendor id when
 * the environment names one (`tcf_vendor_id`).
 */
export function checkTcf(tcString: string | undefined, vendorId: number | null): TcfVerdict {
  if (!tcString) return { ok: false, reason: 'tcf_missing' };
  if (tcString.length > MAX_CONSENT_STRING_CHARS || !/^[A-Za-z0-9_.-]+$/.test(tcString))
    return { ok: false, reason: 'tcf_invalid' };
  // The IAB decoder expands every vendor range one id at a time, overlaps included: an 8 KB
  // string of ranges 1-65535 would hold the event loop for seconds.
  if (!tcfRangeIdsWithin(tcString, MAX_TCF_RANGE_IDS)) return { ok: false, reason: 'tcf_invalid' };
  let model: ReturnType<typeof TCString.decode>;
  try {
    model = TCString.decode(tcString);
  } catch {
    return { ok: false, reason: 'tcf_invalid' };
  }
  if (!model.purposeConsents.has(TCF_STORAGE_PURPOSE))
    return { ok: false, reason: 'tcf_no_purpose_1' };
  if (vendorId !== null && !model.vendorConsents.has(vendorId))
    return { ok: false, reason: 'tcf_no_vendor' };
  return { ok: true };
}

const US_PRIVACY_RE = /^1[YN-][YN-][YN-]$/i;

/**
 * True when an IAB US Privacy string (`1YYN`: version, notice, opt-out of sale, LSPA) says the
 * person opted out of sale. `1---` (not applicable) and malformed strings are no opt-out.
 */
export function usPrivacyOptedOut(usp: string | undefined): boolean {
  return !!usp && US_PRIVACY_RE.test(usp) && usp[2].toUpperCase() === 'Y';
}

/** GPP section ids with a meaning of their own here (GPP spec, "Section Information"). */
const GPP_TCF_EU = 2;
const GPP_US_PRIVACY = 6;
/** US National (7) and the US state sections (8 on: usca, usva, usco, usut, usct, …). */
const GPP_FIRST_US_SECTION = 7;
/** Fields of the US sections where 1 means "opted out" (0: not applicable, 2: did not). */
const US_OPT_OUT_FIELDS = ['SaleOptOut', 'SharingOptOut', 'TargetedAdvertisingOptOut'];
const GPP_OPTED_OUT = 1;
const MAX_GPP_SECTIONS = 64;

/**
 * The section ids listed in a GPP header, in order, or null when it is malformed. Read here
 * rather than by @iabgpp/cmpapi, whose header decoder expands a Fibonacci-coded id range
 * without bound: a 12-character header makes it build an array of hundreds of millions of ids
 * (seconds of CPU and gigabytes of memory on a public pixel), so no header reaches it.
 */
function gppSectionIds(header: string): number[] | null {
  const bits = toBits(header);
  if (!bits) return null;
  const r = new BitReader(bits);
  if (r.int(6) !== 3) return null;
  if (r.int(6) === null) return null;
  const entries = r.int(12);
  if (entries === null || entries > MAX_GPP_SECTIONS) return null;
  const ids: number[] = [];
  let last = 0;
  for (let i = 0; i < entries; i++) {
    const isRange = r.int(1);
    const start = r.fibonacci();
    if (isRange === null || start === null) return null;
    last += start;
    ids.push(last);
    if (isRange === 1) {
      const span = r.fibonacci();
      if (span === null || span > MAX_GPP_SECTIONS) return null;
      for (let k = 1; k <= span; k++) ids.push(last + k);
      last += span;
    }
  }
  return ids.length > MAX_GPP_SECTIONS ? null : ids;
}

/**
 * Whether a US section (national or state) says the person opted out of sale, sharing or
 * targeted advertising, or carries their GPC signal; decoded by the IAB's own section
 * decoders. Null when the section does not decode.
 */
function usSectionOptedOut(id: number, text: string): boolean | null {
  const name = Sections.SECTION_ID_NAME_MAP.get(id);
  if (!name) return false;
  let fields: Record<string, unknown>;
  try {
    const model = new GppModel();
    model.decodeSection(name, text);
    fields = model.getSection(name) ?? {};
  } catch {
    return null;
  }
  return US_OPT_OUT_FIELDS.some((f) => fields[f] === GPP_OPTED_OUT) || fields.Gpc === true;
}

/** What a GPP string says, for the sections that decide consent here. */
export interface GppVerdict {
  /** False when the string, or a section that applies, does not decode. */
  valid: boolean;
  /** The EU TCF section applies: listed in `gpp_sid`, or, without one, present. */
  gdprApplies: boolean;
  /** The TCF v2 string of the EU section (id 2), when present and applicable. */
  tcf?: string;
  /** Opted out of sale, sharing or targeted ads in an applicable US Privacy or US section. */
  optedOut: boolean;
}

const NO_GPP: GppVerdict = { valid: true, gdprApplies: false, optedOut: false };

/** The ids of `gpp_sid` (comma- or underscore-separated, as the macros expand), or null. */
function applicableIds(gppSid: string | undefined): Set<number> | null {
  if (!gppSid) return null;
  return new Set(gppSid.split(/[,_]/).map((s) => Number(s.trim())));
}

/**
 * Reads a GPP string `header~section~…`. `gpp_sid` names the sections that apply to this
 * request; without it every section present applies. The EU TCF section (2) is handed on as a
 * TCF string; US Privacy (6) is read as `us_privacy`; US National (7) and the US state
 * sections (8 on) opt out with SaleOptOut, SharingOptOut or TargetedAdvertisingOptOut = 1 or
 * Gpc set. Other sections (Canada's TCF) are not read. Never throws.
 */
export function readGpp(gpp: string | undefined, gppSid: string | undefined): GppVerdict {
  const sid = applicableIds(gppSid);
  // gpp_sid alone still says that TCF applies; its string is then missing.
  const named: GppVerdict = { ...NO_GPP, gdprApplies: sid?.has(GPP_TCF_EU) === true };
  if (!gpp) return named;
  const invalid = { ...named, valid: false };
  if (gpp.length > MAX_CONSENT_STRING_CHARS) return invalid;
  const [header, ...sections] = gpp.split('~');
  const ids = gppSectionIds(header);
  if (!ids || ids.length !== sections.length) return invalid;
  const applies = sid ?? new Set(ids);
  const out: GppVerdict = { ...NO_GPP, gdprApplies: applies.has(GPP_TCF_EU) };
  ids.forEach((id, i) => {
    if (!applies.has(id)) return;
    const section = sections[i];
    if (id === GPP_TCF_EU) out.tcf = section;
    else if (id === GPP_US_PRIVACY) {
      if (!US_PRIVACY_RE.test(section)) out.valid = false;
      else if (usPrivacyOptedOut(section)) out.optedOut = true;
    } else if (id >= GPP_FIRST_US_SECTION) {
      const optedOut = usSectionOptedOut(id, section);
      if (optedOut === null) out.valid = false;
      else if (optedOut) out.optedOut = true;
    }
  });
  return out;
}
