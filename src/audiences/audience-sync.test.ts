import { describe, expect, it } from 'vitest';
import type { DestinationConfig } from '../domain/config-types.js';
import { erasureRemovals } from './audience-sync.js';

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
