import type { PathTouch } from './attribution-models.js';
import { visitStarts } from './conversion-path.js';
import type { Touch } from './event.js';

// Non-converting journeys (issue 23 §2): the data-driven model weighs each channel by how
// much less often people convert without it, which it can only tell if it also sees the
// people who did not convert. Stored conversion paths hold the converters' touches; these
// are everyone else's, built from the stored touches.

/** A journey that ended without a conversion: its touches, oldest first, and its weight. */
export interface NonConvertingPath {
  touches: PathTouch[];
  /** Journeys it stands for: 1, more when only part of the range's touches were read. */
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
 * The non-converting journeys in `touches` (sorted by time): each person's touches that are
 * on no conversion path (`converted`: the touch ids of the paths), split where two touches
 * are `lookback_s` or more apart (a conversion window could not have held both), with the
 * repeats of a visit collapsed as on conversion paths; each journey weighs `weight`. One
 * pass: linear in the touches.
 */
export function nonConvertingJourneys(
  touches: readonly Touch[],
  converted: ReadonlySet<string>,
  lookback_s: number,
  weight = 1,
): NonConvertingPath[] {
  const journeys = new JourneyBuilder(converted, lookback_s);
  journeys.add(touches);
  return journeys.finish(weight);
}

/**
 * nonConvertingJourneys for touches read in pages: `add` each page in turn (each after the
 * last in time), then `finish`. A page's work is done as it arrives, so building the journeys
 * of 300,000 touches never runs in one go (it took 466 ms on a server's event loop).
 */
export class JourneyBuilder {
  private readonly open = new Map<string, NonConvertingPath>();
  private readonly done: NonConvertingPath[] = [];
  private readonly kept = visitStarts();

  constructor(
    private readonly converted: ReadonlySet<string>,
    private readonly lookback_s: number,
  ) {}

  /** Adds touches sorted by time, all after those added before. */
  add(touches: readonly Touch[]): void {
    for (const t of touches) {
      if (!this.kept(t) || this.converted.has(t.touch_id)) continue;
      const person = journeyPerson(t);
      if (person === null) continue;
      const touch: PathTouch = {
        kind: t.kind,
        campaign_id: t.campaign_id,
        time: t.time,
        dest_id: t.dest_id,
        ...(t.traffic_source ? { traffic_source: t.traffic_source } : {}),
      };
      const j = this.open.get(person);
      const last = j?.touches.at(-1);
      if (j && last && t.time - last.time < this.lookback_s) j.touches.push(touch);
      else {
        if (j) this.done.push(j);
        this.open.set(person, { touches: [touch], weight: 1 });
      }
    }
  }

  /** The journeys, each weighing `weight`. */
  finish(weight = 1): NonConvertingPath[] {
    const all = [...this.done, ...this.open.values()];
    for (const j of all) j.weight = weight;
    return all;
  }
}
