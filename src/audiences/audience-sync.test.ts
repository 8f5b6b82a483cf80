import { describe, expect, it } from 'vitest';
import { countTurns } from '../../test/helpers/loop-turns.js';
import type { DestinationConfig } from '../domain/config-types.js';
import type { MembershipRow, Store } from '../store/store.js';
import type { LoadedAudience } from './audience.js';
import { erasureRemovals, planSync } from './audience-sync.js';

const person = (n: number, email: boolean) => ({
  person: `u:${n}`,
  ids: {
    extern_id_sha256: `x${n}`,
    email_sha256: email ? `e${n}` : null,
    phone_sha256: null,
    phone_e164_sha256: null,
  },
});

const dests: Record<string, Pick<DestinationConfig, 'id' | 'type'>> = {
  tt: { id: 'tt', type: 'tiktok' },
  hook: { id: 'hook', type: 'webhook' },
};
let seq = 0;
const plan = erasureRemovals(
  { newId: (prefix) => `${prefix}${++seq}` },
  (id) => dests[id] as DestinationConfig | undefined,
);

describe('erasureRemovals', () => {
  it('ER01 one remove batch per platform audience the audience went to, of what it can match', () => {
    const jobs = plan([
      {
        audience_id: 'aud1',
        dest_id: 'tt',
        targets: [
          { platform_audience_id: 'seg-1', advertiser_id: '7' },
          { platform_audience_id: 'seg-2', advertiser_id: '7' },
        ],
        persons: [person(1, true), person(2, false)],
      },
    ]);
    expect(jobs.map((j) => [j.dest_id, j.job.platform_audience_id, j.job.action])).toEqual([
      ['tt', 'seg-1', 'remove'],
      ['tt', 'seg-2', 'remove'],
    ]);
    // TikTok matches no one without an email or phone: they were never sent there.
    for (const j of jobs) expect(j.job.persons).toEqual([person(1, true)]);
    expect(jobs[0].key).toMatch(/^aud1:as_/);
  });

  it('ER02 a destination gone from the config or not an audience platform gets none', () => {
    const hold = {
      audience_id: 'aud1',
      targets: [{ platform_audience_id: '1', advertiser_id: null }],
    };
    const persons = [person(1, true)];
    expect(plan([{ ...hold, dest_id: 'gone', persons }])).toEqual([]);
    expect(plan([{ ...hold, dest_id: 'hook', persons }])).toEqual([]);
  });
});

describe('planSync (issue 22)', () => {
  it('AS01 lets the event loop turn while it hashes and compares the members, and plans the same', async () => {
    // 3,000 members, none synced yet; the store answers at once, as SQLite's does.
    const members: MembershipRow[] = Array.from({ length: 3_000 }, (_, i) => ({
      key_type: 'user_id',
      key_value: `m${i}`,
      person: `u:m${i}`,
      member: true,
      changes_at: null,
      email_sha256: `${i}`.padStart(64, 'e'),
      phone_sha256: null,
      phone_e164_sha256: null,
    }));
    let added = 0;
    const store = {
      audienceMembers: async () => members,
      syncedPersons: async () => [],
      enqueueAudienceSync: async (_e: string, _d: string, _jobs: unknown[], adds: unknown[]) => {
        added = adds.length;
        return 1;
      },
    } as unknown as Store;
    const a = { record: { env_id: 'env', id: 'aud' } } as unknown as LoadedAudience;
    const dest = { id: 'tt', type: 'tiktok' } as DestinationConfig;
    // A clock that moves 1 ms each time it is read: the 10 ms budget runs out every few
    // members, whatever the speed of the box.
    const realNow = performance.now.bind(performance);
    let now = 0;
    performance.now = () => ++now;
    const counter = countTurns();
    let plan: Awaited<ReturnType<typeof planSync>>;
    try {
      plan = await planSync({ store, nowMs: () => 0, newId: (p) => `${p}${++seq}` }, a, dest, {
        audience_id: 'tt-aud',
      } as never);
    } finally {
      counter.stop();
      performance.now = realNow;
    }
    expect(plan).toMatchObject({ added: 3_000, removed: 0, skipped: 0 });
    expect(added).toBe(3_000);
    // Each of the three passes over the members turns the loop; in one go it never would.
    expect(counter.turns()).toBeGreaterThan(3);
  });
});
