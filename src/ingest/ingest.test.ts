import { describe, expect, it } from 'vitest';
import type { TrackedEvent } from '../domain/event.js';
import { commit } from './ingest.js';
import type { EventOutcome } from './ingest-pipeline.js';

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
