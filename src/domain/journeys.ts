import type { Journey, PathTouch } from './attribution-models.js';
import { visitStarts } from './conversion-path.js';
import type { Touch } from './event.js';

// Non-converting journeys (issue 23 §2): the data-driven model weighs each channel by how
// much less often people convert without it, which it can only tell if it also sees the
// people who did not convert. Stored conversion paths hold the converters' touches; these
// are everyone else's, built from the stored touches.

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
 * The row a touch falls in (a report dimension's key), or null for a touch the dimension
 * leaves out of the channels (a visit from an ignored referrer): it still extends its journey
 * in time, as on a conversion path it is dropped only once the path is built.
 */
export type ChannelOf = (t: PathTouch) => string | null;

/** Non-converting journeys as the data-driven model reads them, and how many there were. */
export interface JourneyTally {
  /** One per distinct run of channels, weighing the journeys that took it. */
  journeys: Journey[];
  /** Journeys in all, those that kept no channel included. */
  count: number;
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
  channelOf: ChannelOf,
  weight = 1,
): JourneyTally {
  const journeys = new JourneyBuilder(converted, lookback_s, channelOf);
  journeys.add(touches);
  return journeys.finish(weight);
}

/**
 * A run of channels, in a tree of the runs seen: a journey is a node, and journeys that went
 * through the same channels share it. The data-driven model only counts steps between
 * channels, so a journey needs no touch kept once it is keyed.
 */
interface Run {
  /** The run one channel shorter (null: the root, no channel). */
  parent: Run | null;
  channel: string;
  next: Map<string, Run> | null;
  /** Journeys that ended here. */
  ended: number;
}

/** The channels of a run, first to last. */
function channelsOf(run: Run): string[] {
  const out: string[] = [];
  for (let r: Run | null = run; r?.parent; r = r.parent) out.push(r.channel);
  return out.reverse();
}

/** A person's open journey: where it is in the tree of runs, and when its last touch was. */
interface Open {
  run: Run;
  last: number;
}

/**
 * nonConvertingJourneys for touches read in pages: `add` each page in turn (each after the
 * last in time), then `finish`. A page's work is done as it arrives, so building the journeys
 * of 300,000 touches never runs in one go (it took 466 ms on a server's event loop).
 *
 * Each touch is keyed as it comes and only its person's place in the tree of runs is kept:
 * keeping every touch of 300,000 until the report keyed them cost the event loop about 1 s of
 * building, garbage collection and keying a report (bench/RESULTS.md, sixteenth round).
 */
export class JourneyBuilder {
  // The open journey of each person, by the key journeyPerson would make, kept in one map per
  // kind of key: no key string is built for the browser and user ids (most touches).
  private readonly byBrowser = new Map<string, Open>();
  private readonly byUser = new Map<string, Open>();
  private readonly byDevice = new Map<string, Open>();
  private readonly root: Run = { parent: null, channel: '', next: null, ended: 0 };
  private readonly kept = visitStarts();
  private count = 0;

  constructor(
    private readonly converted: ReadonlySet<string>,
    private readonly lookback_s: number,
    private readonly channelOf: ChannelOf,
  ) {}

  /** Adds touches sorted by time, all after those added before. */
  add(touches: readonly JourneyTouch[]): void {
    for (const t of touches) {
      if (!this.kept(t) || this.converted.has(t.touch_id)) continue;
      let open: Map<string, Open>;
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
      const channel = this.channelOf(t);
      const j = open.get(key);
      if (j && t.time - j.last < this.lookback_s) {
        if (channel !== null) j.run = this.step(j.run, channel);
        j.last = t.time;
        continue;
      }
      const run = channel === null ? this.root : this.step(this.root, channel);
      if (j) {
        this.end(j.run);
        j.run = run;
        j.last = t.time;
      } else open.set(key, { run, last: t.time });
    }
  }

  /** The journeys, each weighing `weight`. */
  finish(weight = 1): JourneyTally {
    for (const open of [this.byBrowser, this.byUser, this.byDevice]) {
      for (const j of open.values()) this.end(j.run);
      open.clear();
    }
    // The tree in pre-order, by a stack of its own: a run is as deep as a journey is long,
    // and one person's journey may hold every touch read. Only runs some journey ended in
    // spell out their channels, so that work is bounded by the touches kept.
    const journeys: Journey[] = [];
    const stack: Run[] = [this.root];
    for (let run = stack.pop(); run; run = stack.pop()) {
      if (run.ended > 0 && run !== this.root)
        journeys.push({ channels: channelsOf(run), converted: false, weight: run.ended * weight });
      if (run.next) {
        const children = [...run.next.values()];
        for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
      }
    }
    return { journeys, count: this.count };
  }

  private step(run: Run, channel: string): Run {
    run.next ??= new Map();
    let next = run.next.get(channel);
    if (!next) {
      next = { parent: run, channel, next: null, ended: 0 };
      run.next.set(channel, next);
    }
    return next;
  }

  private end(run: Run) {
    run.ended++;
    this.count++;
  }
}
