import { describe, expect, it } from 'vitest';
import type { Touch } from '../domain/event.js';
import { FxTable } from '../domain/fx-rates.js';
import type { ConversionPathRecord, Store, TouchCursor } from '../store/store.js';
import { attributionReport, type CampaignCredit } from './attribution-report.js';
import { nonConvertingPaths } from './journeys-run.js';
import { BY_CAMPAIGN } from './report-dimension.js';

const byCampaign = BY_CAMPAIGN.channelOf;

const H = 3600;
const T0 = 1_700_000_000;

/** A conversion path of one person: their touches (campaign, touch id) an hour apart. */
function path(id: string, time: number, touches: Array<[string, string]>): ConversionPathRecord {
  return {
    env_id: 'e',
    conversion_id: id,
    event_pk: id,
    event_name: 'Purchase',
    event_time: time,
    value: 100,
    currency: 'EUR',
    lookback_s: 7 * 86_400,
    touches: touches.map(([campaign_id, touch_id], i) => ({
      kind: 'impression',
      touch_id,
      dest_id: null,
      campaign_id,
      time: time - (touches.length - i) * H,
      match_key: 'cookie',
    })),
    created_at_ms: 0,
  };
}

const touch = (touch_id: string, person: string, campaign_id: string, time: number): Touch => ({
  env_id: 'e',
  kind: 'impression',
  touch_id,
  dest_id: null,
  campaign_id,
  creative_id: null,
  placement_id: null,
  time,
  anonymous_id: person,
  user_id: null,
  ip: null,
  user_agent: null,
});

/** The store reads of nonConvertingPaths over lists in memory, paged as the real one. */
function memoryStore(paths: ConversionPathRecord[], touches: Touch[], pageSize = 7) {
  const sorted = touches
    .map((t, id) => ({ t, id }))
    .sort((a, b) => a.t.time - b.t.time || a.id - b.id);
  const store: Pick<Store, 'pathTouchIds' | 'estimateJourneyTouches' | 'journeyTouches'> = {
    pathTouchIds: async (_env, from, to) => [
      ...new Set(
        paths
          .filter((p) => p.event_time >= from && p.event_time < to)
          .flatMap((p) => p.touches.map((t) => t.touch_id)),
      ),
    ],
    estimateJourneyTouches: async (_env, from, to) =>
      sorted.filter(({ t }) => t.time >= from && t.time < to).length,
    journeyTouches: async (_env, from, to, after: TouchCursor | null, limit) => {
      const rows = sorted.filter(
        ({ t, id }) =>
          t.time >= from &&
          t.time < to &&
          (!after || t.time > after.time || (t.time === after.time && id > after.id)),
      );
      const page = rows.slice(0, Math.min(limit, pageSize));
      const last = page.at(-1);
      return {
        touches: page.map((r) => r.t),
        next: last && rows.length > page.length ? { time: last.t.time, id: last.id } : null,
      };
    },
  };
  return store;
}

describe('non-converting journeys in the attribution report', () => {
  // 10 converters saw A then B, 10 saw B only (DJ01's numbers, as stored rows): 80 people saw
  // A and bought nothing, 10 saw B and bought nothing; one A touch of a converter's later
  // conversion (after the range) must not count as non-converting.
  const convAt = T0 + 10 * H;
  const paths = [
    ...Array.from({ length: 10 }, (_, i) =>
      path(`ab${i}`, convAt, [
        ['A', `ab${i}-a`],
        ['B', `ab${i}-b`],
      ]),
    ),
    ...Array.from({ length: 10 }, (_, i) => path(`b${i}`, convAt, [['B', `b${i}-b`]])),
  ];
  const later = path('later', T0 + 30 * H, [['A', 'later-a']]);
  const touches = [
    ...paths.flatMap((p) =>
      p.touches.map((t) => touch(t.touch_id, `c-${p.conversion_id}`, t.campaign_id ?? '', t.time)),
    ),
    ...Array.from({ length: 80 }, (_, i) => touch(`na${i}`, `na${i}`, 'A', T0 + (i % 20) * H)),
    ...Array.from({ length: 10 }, (_, i) => touch(`nb${i}`, `nb${i}`, 'B', T0 + i * H)),
    touch('later-a', 'p-later', 'A', T0 + 20 * H),
  ];
  const range = [T0, T0 + 24 * H] as const;

  it('DJ05 the journeys come from the stored touches, paged, without converters’ touches', async () => {
    const store = memoryStore([...paths, later], touches);
    const read = await nonConvertingPaths(store, 'e', paths, ...range, byCampaign);
    expect(read.sample).toBe(1);
    expect(read.touches).toBe(touches.length);
    expect(read.journeys).toEqual([
      { channels: ['A'], converted: false, weight: 80 },
      { channels: ['B'], converted: false, weight: 10 },
    ]);
    expect(read.count).toBe(90);
  });

  it('DJ06 with them, the data-driven report gives A less of the A → B sales (1/3 → 1/4)', async () => {
    const fx = new FxTable([]);
    const rowA = (r: Awaited<ReturnType<typeof attributionReport>>) =>
      (r.rows as CampaignCredit[]).find((x) => x.campaign_id === 'A') as CampaignCredit;
    const only = await attributionReport(paths, 'data_driven', fx, null);
    expect(rowA(only).conversions).toBeCloseTo(10 / 3, 5);
    const read = await nonConvertingPaths(
      memoryStore([...paths, later], touches),
      'e',
      paths,
      ...range,
      byCampaign,
    );
    const all = await attributionReport(paths, 'data_driven', fx, null, {
      non_converting: read.journeys,
    });
    expect(rowA(all).conversions).toBeCloseTo(10 / 4, 5);
    // Every sale is still credited whole: what A loses, B gains.
    expect(all.totals).toEqual(only.totals);
  });

  it('DJ07 past the cap the range’s first touches are read and weigh for the rest', async () => {
    const store = memoryStore([...paths, later], touches, 7);
    const read = await nonConvertingPaths(store, 'e', paths, ...range, byCampaign, 30);
    // Pages of 7 until 30 are read: 35 of the range's 131 touches.
    expect(read.touches).toBe(35);
    expect(read.sample).toBeCloseTo(35 / touches.length, 12);
    // Each journey read weighs for those of the touches not read.
    const each = touches.length / 35;
    for (const j of read.journeys) {
      const journeys = (j.weight ?? 1) / each;
      expect(journeys).toBeGreaterThanOrEqual(1);
      expect(journeys).toBeCloseTo(Math.round(journeys), 9);
    }
    const weight = read.journeys.reduce((w, j) => w + (j.weight ?? 1), 0);
    expect(weight).toBeCloseTo(read.count * each, 9);
  });

  it('DJ08 the next page is on its way to the store before this one is added', async () => {
    // A store whose query leaves after a few promise steps (as Kysely's does) and whose pages
    // say when they are walked: a page asked for only after the last one was added left the
    // store's thread idle while the event loop worked, and the other way round.
    const inner = memoryStore([...paths, later], touches, 7);
    const log: string[] = [];
    let asked = 0;
    const store: typeof inner = {
      ...inner,
      journeyTouches: async (...a) => {
        const n = ++asked;
        for (let i = 0; i < 5; i++) await Promise.resolve();
        log.push(`sent ${n}`);
        const page = await inner.journeyTouches(...a);
        const walked = page.touches;
        const touches = Object.assign([...walked], {
          [Symbol.iterator]: () => {
            log.push(`added ${n}`);
            return walked[Symbol.iterator]();
          },
        });
        return { ...page, touches };
      },
    };
    const read = await nonConvertingPaths(store, 'e', paths, ...range, byCampaign);
    expect(read.touches).toBe(touches.length);
    const pages = Math.ceil(touches.length / 7);
    expect(asked).toBe(pages);
    for (let n = 1; n < pages; n++)
      expect(log.indexOf(`sent ${n + 1}`), `page ${n + 1}`).toBeLessThan(log.indexOf(`added ${n}`));
    expect(log.indexOf(`added ${pages}`)).toBeGreaterThan(log.indexOf(`sent ${pages}`));
  });
});
