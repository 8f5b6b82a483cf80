import {
  type Attribution,
  type Candidate,
  compareCandidates,
  matchClassOf,
} from './attribution.js';
import type { Touch } from './event.js';

/** One destination's decision on a conversion, as stored. */
export interface DestinationCredit {
  dest_id: string;
  attribution: Attribution | null;
}

/** The touch a destination credited, as attribution ranks touches. */
function candidateOf(dest_id: string, a: Attribution): Candidate {
  const kind = a.type === 'click' ? 'click' : 'impression';
  const touch: Touch = {
    env_id: '',
    kind,
    touch_id: (kind === 'click' ? a.click_id : a.imp_id) ?? '',
    dest_id,
    campaign_id: a.campaign_id,
    creative_id: a.creative_id,
    placement_id: a.placement_id,
    time: a.touch_time,
    anonymous_id: null,
    user_id: null,
    ip: null,
    user_agent: null,
  };
  return {
    touch,
    key: a.match_key,
    match_class: matchClassOf(kind, a.match_key),
    gap_s: 0,
    in_window: true,
    excluded: null,
  };
}

/**
 * Which of a conversion's destination rows the deduplicated view counts (DESIGN §6): the
 * one whose credited touch wins across all destinations by the rules each destination's
 * own winner was chosen by (compareCandidates: class, then latest, then stronger key). Each
 * destination's credit is already the best of its own in-window touches, so the best of
 * those credits is the best touch of all destinations' touches merged. Two destinations
 * crediting the same touch tie; the smaller destination id then stands for it. With no credit
 * at all, the row of the smallest destination id stands for the conversion. Answers an index
 * into `rows`, or -1 when there are none.
 */
export function dedupRowIndex(rows: readonly DestinationCredit[]): number {
  let best = -1;
  let bestCandidate: Candidate | null = null;
  rows.forEach((r, i) => {
    const c = r.attribution ? candidateOf(r.dest_id, r.attribution) : null;
    if (best === -1) {
      best = i;
      bestCandidate = c;
      return;
    }
    const current = rows[best] as DestinationCredit;
    const order =
      c && bestCandidate ? compareCandidates(c, bestCandidate) : c ? -1 : bestCandidate ? 1 : 0;
    if (order < 0 || (order === 0 && r.dest_id < current.dest_id)) {
      best = i;
      bestCandidate = c;
    }
  });
  return best;
}
