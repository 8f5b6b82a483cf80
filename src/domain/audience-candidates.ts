import type { RuleNode } from './audience-rule-types.js';
import type { TouchKind } from './event.js';

// Who could be in an audience at all. Most audiences need the person to have done something
// ("bought within 30 days", "clicked campaign X within 7 days"): only people with such a
// record can be members, now or later without new data. A full evaluation then reads those
// people instead of everyone seen in the window; on a demo store of 60,000 browsers a
// "buyers" audience evaluated 26,000 of them instead of all 60,000.

/** A kind of record that some member must have (time inside its window, or later). */
export type CandidateSource =
  | { type: 'event'; event: string; within_s: number }
  | { type: 'touch'; touch: TouchKind; campaign_id: string | null; within_s: number };

/**
 * Records of which every member has at least one, or 'everyone' when a person with none can
 * still be a member (a group of only `none`, or an `any` with such a branch).
 *
 * Why it holds: a leaf is true only with a matching record in (now − within, now]; an `all`
 * is true only when each of its children is, so one child's sources suffice (the first that
 * has any); an `any` is true only when one of its children is, so the union of theirs; a
 * `none` can be true on no records at all. A person with no matching record at or after
 * now − within is therefore not a member now, and time alone cannot make them one.
 */
export function candidateSources(node: RuleNode): CandidateSource[] | 'everyone' {
  if (node.type === 'event') return [{ type: 'event', event: node.event, within_s: node.within_s }];
  if (node.type === 'touch')
    return [
      { type: 'touch', touch: node.touch, campaign_id: node.campaign_id, within_s: node.within_s },
    ];
  for (const child of node.all) {
    const sources = candidateSources(child);
    if (sources !== 'everyone') return sources;
  }
  if (node.any.length === 0) return 'everyone';
  const union: CandidateSource[] = [];
  for (const child of node.any) {
    const sources = candidateSources(child);
    if (sources === 'everyone') return 'everyone';
    union.push(...sources);
  }
  return union;
}
