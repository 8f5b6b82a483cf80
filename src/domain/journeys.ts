import type { PathTouch } from './attribution-models.js';
import { collapseVisits } from './conversion-path.js';
import type { Touch } from './event.js';

// Non-converting journeys (issue 23 §2): the data-driven model weighs each channel by how
// much less often people convert without it, which it can only tell if it also sees the
// people who did not convert. Stored conversion paths hold the converters' touches; these
// are everyone else's, built from the stored touches.

/** A journey that ended without a conversion: its touches, oldest first, and its weight. */
export interface NonConvertingPath {
  touches: PathTouch[];
  /** Journeys it stands for: 1 / the share of people read when the touches were sampled. */
  weight: number;
}

/**
 * The person a touch belongs to, as a conversion path would match it: the browser id, else
 * the user id, else the device's address and user agent. A touch with none is no one's.
 */
export function journeyPerson(t: Pick<Touch, 'anonymous_id' | 'user_id' | 'ip' | 'user_agent'>) {
  if (t.anonymous_id) return `a:${t.anonymous_id}`;
  if (t.user_id) return `u:${t.user_id}`;
  if (t.ip && t.user_agent) return `d:${t.ip}\u0000${t.user_agent}`;
  return null;
}

/**
 * A stable share of people in [0, 1): FNV-1a over the person id, then MurmurHash3's 32-bit
 * finaliser, without which ids that differ in their last characters (p1, p2…) cluster.
 * Sampling by person keeps each sampled person's journey whole, and the same people on every
 * run; no cryptographic strength is needed, and it runs for up to millions of touches.
 */
export function personShare(person: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < person.length; i++) {
    h ^= person.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/**
 * The non-converting journeys in `touches` (sorted by time): each person's touches that are
 * on no conversion path (`converted`: the touch ids of the paths), split where two touches
 * are `lookback_s` or more apart (a conversion window could not have held both), with the
 * repeats of a visit collapsed as on conversion paths. Only people whose share is under
 * `sample` are kept, each journey then standing for 1 / `sample`. One pass: linear in the
 * touches.
 */
export function nonConvertingJourneys(
  touches: readonly Touch[],
  converted: ReadonlySet<string>,
  lookback_s: number,
  sample = 1,
): NonConvertingPath[] {
  const weight = 1 / sample;
  const open = new Map<string, NonConvertingPath>();
  const done: NonConvertingPath[] = [];
  for (const t of collapseVisits(touches)) {
    if (converted.has(t.touch_id)) continue;
    const person = journeyPerson(t);
    if (person === null || (sample < 1 && personShare(person) >= sample)) continue;
    const touch: PathTouch = {
      kind: t.kind,
      campaign_id: t.campaign_id,
      time: t.time,
      dest_id: t.dest_id,
      ...(t.traffic_source ? { traffic_source: t.traffic_source } : {}),
    };
    const j = open.get(person);
    const last = j?.touches.at(-1);
    if (j && last && t.time - last.time < lookback_s) j.touches.push(touch);
    else {
      if (j) done.push(j);
      open.set(person, { touches: [touch], weight });
    }
  }
  return [...done, ...open.values()];
}
