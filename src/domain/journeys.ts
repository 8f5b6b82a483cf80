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
 * What a journey needs of a stored touch. `ip` and `user_agent` matter only to a touch with
 * neither a browser nor a user id (journeyPerson), and a store may leave them out otherwise.
 */
export type JourneyTouch = Pick<
  Touch,
  | 'kind'
  | 'touch_id'
  | 'dest_id'
  | 'campaign_id'
  | 'time'
  | 'anonymous_id'
  | 'user_id'
  | 'ip'
  | 'user_agent'
  | 'traffic_source'
>;

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
  touches: readonly JourneyTouch[],
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
  // The open journey of each person, by the key journeyPerson would make, kept in one map per
  // kind of key: no key string is built for the browser and user ids (most touches).
  private readonly byBrowser = new Map<string, NonConvertingPath>();
  private readonly byUser = new Map<string, NonConvertingPath>();
  private readonly byDevice = new Map<string, NonConvertingPath>();
  private readonly done: NonConvertingPath[] = [];
  private readonly kept = visitStarts();

  constructor(
    private readonly converted: ReadonlySet<string>,
    private readonly lookback_s: number,
  ) {}

  /** Adds touches sorted by time, all after those added before. */
  add(touches: readonly JourneyTouch[]): void {
    for (const t of touches) {
      if (!this.kept(t) || this.converted.has(t.touch_id)) continue;
      let open: Map<string, NonConvertingPath>;
      let key: string;
      if (t.anonymous_id) {
        open = this.byBrowser;
        key = t.anonymous_id;
      } else if (t.user_id) {
        open = this.byUser;
        key = t.user_id;
      } else if (t.ip && t.user_agent) {
        open = this.byDevice;
        key = `${t.ip}\u0000${t.user_agent}`;
      } else continue;
      // One shape for every touch without a source (most): no spread per touch.
      const touch: PathTouch = t.traffic_source
        ? {
            kind: t.kind,
            campaign_id: t.campaign_id,
            time: t.time,
            dest_id: t.dest_id,
            traffic_source: t.traffic_source,
          }
        : { kind: t.kind, campaign_id: t.campaign_id, time: t.time, dest_id: t.dest_id };
      const j = open.get(key);
      const last = j?.touches[j.touches.length - 1];
      if (j && last && t.time - last.time < this.lookback_s) j.touches.push(touch);
      else {
        if (j) this.done.push(j);
        open.set(key, { touches: [touch], weight: 1 });
      }
    }
  }

  /** The journeys, each weighing `weight`. */
  finish(weight = 1): NonConvertingPath[] {
    const all = [
      ...this.done,
      ...this.byBrowser.values(),
      ...this.byUser.values(),
      ...this.byDevice.values(),
    ];
    for (const j of all) j.weight = weight;
    return all;
  }
}
