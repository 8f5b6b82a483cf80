import { describe, expect, it } from 'vitest';
import type { Touch, TrackedEvent } from '../domain/event.js';
import { readTrafficSource } from '../domain/traffic-source.js';
import { commit } from './ingest.js';
import type { EventOutcome } from './ingest-pipeline.js';
import { knownSources } from './source-list.js';
import { VisitGate } from './visit-gate.js';

function event(event_id: string): TrackedEvent {
  return {
    env_id: 'env',
    event_name: 'Purchase',
    event_id,
    event_time: 1_763_900_000,
    source: 'server',
    user: {},
    properties: {},
    consent: { ads: true, analytics: true },
    warnings: [],
  };
}

/** How many times committing one event with `outcome` woke the delivery worker. */
async function wakesAfter(outcome: EventOutcome): Promise<number> {
  let wakes = 0;
  const deps = {
    pipeline: { recordEvents: async () => [outcome], recordTouch: () => true },
    worker: {
      wake: () => {
        wakes++;
      },
    },
  };
  await commit(deps, [event('a')]);
  return wakes;
}

describe('commit wakes the delivery worker', () => {
  it('IW01 when the commit queued deliveries', async () => {
    const queued = { status: 'accepted', pk: 'ev_1', conversions: 2, deliveries: 1 } as const;
    expect(await wakesAfter(queued)).toBe(1);
  });

  it('IW02 when a copy merged into a stored event (its deliveries may be requeued)', async () => {
    expect(await wakesAfter({ status: 'duplicate', of: 'ev_1' })).toBe(1);
  });

  it('IW03 not when nothing was queued: a claim round costs more than a small commit', async () => {
    const none = { status: 'accepted', pk: 'ev_1', conversions: 1, deliveries: 0 } as const;
    expect(await wakesAfter(none)).toBe(0);
  });
});

describe('visits of unmarked senders (issue 23 review)', () => {
  const ctx = { sources: knownSources(), siteHosts: ['shop.example'], clickIdParam: 'pt_click_id' };

  /** A Segment-style event (no landing mark) of one person, on `url` from `referrer`. */
  function segment(name: string, url: string, referrer: string, time: number): TrackedEvent {
    return {
      ...event(`${name}-${time}`),
      event_name: name,
      event_time: time,
      source: 'server',
      user: { anonymous_id: 'seg-anon-1', ip: '203.0.113.9' },
      properties: { url, referrer },
      traffic_source: readTrafficSource({ url, referrer }, ctx),
    };
  }

  /** The visits committing these events, one call each, writes: their sources. */
  async function visitsOf(events: TrackedEvent[]): Promise<string[]> {
    const written: Touch[] = [];
    const deps = {
      pipeline: {
        recordEvents: async () => [{ status: 'duplicate', of: 'x' } as const],
        recordTouch: (t: Touch) => written.push(t) > 0,
      },
      worker: { wake: () => undefined },
      visits: new VisitGate(),
    };
    for (const e of events) await commit(deps, [e]);
    return written.map(
      (t) =>
        `${t.traffic_source?.source} / ${t.traffic_source?.click_id_param ?? t.traffic_source?.campaign ?? '-'}`,
    );
  }

  it("IV01 track('Lead') on /?fbclid=x from l.facebook.com is a campaign landing: a visit, even after an organic Facebook page view", async () => {
    const fb = 'https://l.facebook.com/';
    // Read by its referrer (Meta's fbclid also rides on organic shares), but it names an ad click.
    expect(segment('Lead', 'https://shop.example/?fbclid=x', fb, 0).traffic_source?.by).toBe(
      'referrer',
    );
    expect(await visitsOf([segment('Lead', 'https://shop.example/?fbclid=x', fb, 1000)])).toEqual([
      'facebook / fbclid',
    ]);
    // The same person came from a Facebook post ten minutes before: the ad click is a new visit.
    expect(
      await visitsOf([
        segment('PageView', 'https://shop.example/', fb, 1000),
        segment('Lead', 'https://shop.example/?fbclid=x', fb, 1600),
      ]),
    ).toEqual(['facebook / -', 'facebook / fbclid']);
  });

  it('IV02 a UTM landing naming only its campaign, from a known site, is a landing too', async () => {
    const url = 'https://shop.example/?utm_campaign=spring';
    const lead = segment('Lead', url, 'https://l.facebook.com/', 1000);
    expect(lead.traffic_source?.by).toBe('referrer');
    expect(await visitsOf([lead])).toEqual(['facebook / spring']);
  });
});
