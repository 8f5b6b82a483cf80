/**
 * How many vendor ids the ranges of a TCF v2 string name, counted without expanding them.
 * The IAB decoder (`@iabtechlabtcf/core`) sets each id of each range one by one, overlapping
 * ranges included, so a string's decoding cost is this count, not its length.
 * Layout: IAB TCF v2 "TC String Format" (core segment fields, vendor sections, publisher
 * restrictions; disclosed and allowed vendors segments).
 */
import { BitReader, toBits } from './consent-bits.js';

/** Bits of the core segment before its vendor consent section (Version … PublisherCC). */
const CORE_FIXED_BITS = 213;
const VENDOR_ID_BITS = 16;
const NUM_ENTRIES_BITS = 12;
const SEGMENT_TYPE_BITS = 3;
/** Segment types holding a vendor vector: disclosed vendors (1), allowed vendors (2). */
const VENDOR_SEGMENTS = [1, 2];

/** Counts the ids of one range section, against `budget`; false once it is spent. */
function rangeSection(r: BitReader, budget: { left: number }): boolean {
  const entries = r.int(NUM_ENTRIES_BITS);
  for (let i = 0; entries !== null && i < entries; i++) {
    const isRange = r.int(1);
    const start = r.int(VENDOR_ID_BITS);
    const end = isRange === 1 ? r.int(VENDOR_ID_BITS) : start;
    // A truncated string is the decoder's to refuse; only its cost is judged here.
    if (start === null || end === null) return true;
    budget.left -= Math.max(0, end - start + 1);
    if (budget.left < 0) return false;
  }
  return true;
}

/** A vendor vector: MaxVendorId, then a bitfield (bounded by the string) or range section. */
function vendorVector(r: BitReader, budget: { left: number }): boolean {
  const maxVendorId = r.int(VENDOR_ID_BITS);
  const isRangeEncoding = r.int(1);
  if (maxVendorId === null || isRangeEncoding === null) return true;
  if (isRangeEncoding === 0) {
    r.skip(maxVendorId);
    return true;
  }
  return rangeSection(r, budget);
}

/** The core segment: vendor consents, vendor legitimate interests, publisher restrictions. */
function coreSegment(r: BitReader, budget: { left: number }): boolean {
  if (!r.skip(CORE_FIXED_BITS)) return true;
  if (!vendorVector(r, budget) || !vendorVector(r, budget)) return false;
  const restrictions = r.int(NUM_ENTRIES_BITS);
  for (let i = 0; restrictions !== null && i < restrictions; i++) {
    // PurposeId (6 bits) and RestrictionType (2 bits), then the restricted vendors' ranges.
    if (!r.skip(8)) return true;
    if (!rangeSection(r, budget)) return false;
  }
  return true;
}

/**
 * True when the ranges of `tc` name at most `maxIds` vendor ids in all. Malformed strings
 * pass: whether they decode is the IAB decoder's call.
 */
export function tcfRangeIdsWithin(tc: string, maxIds: number): boolean {
  const budget = { left: maxIds };
  const [core, ...others] = tc.split('.');
  const coreBits = toBits(core);
  if (coreBits && !coreSegment(new BitReader(coreBits), budget)) return false;
  for (const segment of others) {
    const bits = toBits(segment);
    if (!bits) continue;
    const r = new BitReader(bits);
    const type = r.int(SEGMENT_TYPE_BITS);
    if (type !== null && VENDOR_SEGMENTS.includes(type) && !vendorVector(r, budget)) return false;
  }
  return true;
}
