import type { EnvironmentConfig } from '../domain/config-types.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import { protectIp } from '../domain/ip-privacy.js';
import { DAY_S } from '../domain/report.js';
import { processBatch } from '../ingest/ingest-pipeline.js';
import type { Store } from '../store/store.js';

/** Rows per touch write and events per ingest transaction. */
const TOUCH_CHUNK = 5000;
const EVENT_CHUNK = 2000;
/** Share of purchases that follow one of the person's touches (the rest match nothing). */
const ATTRIBUTABLE_SHARE = 0.7;
const CLICK_SHARE = 0.1;
const TOUCHES_PER_PERSON = 5;
const CAMPAIGNS = ['spring-sale', 'retargeting', 'brand', 'prospecting', 'video', 'email-winback'];
const CREATIVES_PER_CAMPAIGN = 3;
export const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15',
];
/** Purchases happen within this long after the touch they follow (inside a 1 d view window). */
const PURCHASE_DELAY_MAX_S = 20 * 3600;

export interface SeedOptions {
  env: EnvironmentConfig;
  touches: number;
  conversions: number;
  days: number;
  nowMs: number;
  /** A seeded generator makes the demo data the same on every run. */
  random: () => number;
  newId: (prefix: string) => string;
  progress?: (phase: string, done: number, total: number) => void;
}

/** A small, fast, seedable PRNG (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ipOf = (p: number) => `10.${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}`;

/**
 * Fills an environment with realistic demo traffic over the last `days`: impressions and
 * clicks of several campaigns, then purchases that go through the real ingest path (dedup,
 * identity, attribution, outbox), most of them following one of the buyer's touches. The
 * queued deliveries are marked delivered: demo data must not flood a destination.
 */
export async function seedDemo(store: Store, o: SeedOptions) {
  const started = Date.now();
  const nowS = Math.floor(o.nowMs / 1000);
  const people = Math.max(1, Math.floor(o.touches / TOUCHES_PER_PERSON));
  const dest = o.env.destinations[0]?.id ?? null;
  const touchPerson = new Uint32Array(o.touches);
  const touchTime = new Uint32Array(o.touches);
  const touchCampaign = new Uint8Array(o.touches);
  const touchCreative = new Uint8Array(o.touches);
  const touchClick = new Uint8Array(o.touches);
  for (let j = 0; j < o.touches; j++) {
    touchPerson[j] = Math.floor(o.random() * people);
    touchCampaign[j] = Math.floor(o.random() * CAMPAIGNS.length);
    touchTime[j] = nowS - Math.floor(o.random() * o.days * DAY_S);
    touchClick[j] = o.random() < CLICK_SHARE ? 1 : 0;
    touchCreative[j] = 1 + Math.floor(o.random() * CREATIVES_PER_CAMPAIGN);
  }
  // Stored in time order, as live traffic arrives: the reads that walk a time index then
  // find the rows side by side, as on a real store (a demo written in random order made
  // the dashboard's journeys read 3-4x slower than live data would).
  const byTime = Uint32Array.from({ length: o.touches }, (_, j) => j).sort(
    (x, y) => (touchTime[x] as number) - (touchTime[y] as number) || x - y,
  );
  for (let i = 0; i < o.touches; i += TOUCH_CHUNK) {
    const chunk: Touch[] = [];
    for (const j of byTime.subarray(i, Math.min(o.touches, i + TOUCH_CHUNK))) {
      const person = touchPerson[j] as number;
      const campaign = CAMPAIGNS[touchCampaign[j] as number] as string;
      const click = touchClick[j] === 1;
      chunk.push({
        env_id: o.env.id,
        kind: click ? 'click' : 'impression',
        touch_id: `seed-${click ? 'clk' : 'imp'}-${j}`,
        dest_id: dest,
        campaign_id: campaign,
        creative_id: `${campaign}-${touchCreative[j]}`,
        placement_id: null,
        time: touchTime[j] as number,
        anonymous_id: `seed-p${person}`,
        user_id: null,
        // Stored as the pixel stores an address (the environment's ip_storage), so that an
        // event's address, protected the same way on its way in, finds it.
        ip: protectIp(ipOf(person), o.env.ip_storage, o.env.ip_secret),
        user_agent: USER_AGENTS[person % USER_AGENTS.length],
      });
    }
    await store.insertTouches(chunk);
    o.progress?.('touches', Math.min(o.touches, i + TOUCH_CHUNK), o.touches);
  }
  // Live traffic gives autovacuum a minute to analyze each day's partition as it fills; a
  // bulk load does not, so the store is analyzed here (PostgreSQL's VACUUM ANALYZE). Without column statistics PostgreSQL takes `env_id = $1` to match
  // 0.5 % of a partition, and its generic plan for the purchases' touch read scanned every
  // touch of the window through the address's index for each anonymous id (30,000 touches
  // and 3,000 purchases: 42 s against 2 s).
  await store.refreshStatistics();

  const purchases: TrackedEvent[] = [];
  for (let j = 0; j < o.conversions; j++) {
    const follows = o.touches > 0 && o.random() < ATTRIBUTABLE_SHARE;
    const t = Math.floor(o.random() * o.touches);
    const person = follows ? (touchPerson[t] as number) : people + j;
    const time = follows
      ? Math.min(nowS, (touchTime[t] as number) + Math.floor(o.random() * PURCHASE_DELAY_MAX_S))
      : nowS - Math.floor(o.random() * o.days * DAY_S);
    purchases.push({
      env_id: o.env.id,
      event_name: 'Purchase',
      event_id: `seed-ord-${j}`,
      event_time: time,
      source: o.random() < 0.5 ? 'tag' : 'server',
      user: {
        anonymous_id: `seed-p${person}`,
        ip: ipOf(person),
        user_agent: USER_AGENTS[person % USER_AGENTS.length],
      },
      properties: { value: Math.round((10 + o.random() * 190) * 100) / 100, currency: 'EUR' },
      consent: { ads: true, analytics: true },
      warnings: [],
    });
  }
  // In time order too (stable: the same order on every run).
  purchases.sort((x, y) => x.event_time - y.event_time);
  for (let i = 0; i < o.conversions; i += EVENT_CHUNK) {
    const events = purchases.slice(i, i + EVENT_CHUNK);
    await store.ingest((tx) =>
      processBatch(tx, events, {
        environment: (id) => (id === o.env.id ? o.env : undefined),
        nowMs: o.nowMs,
        newId: o.newId,
      }),
    );
    o.progress?.('purchases', Math.min(o.conversions, i + EVENT_CHUNK), o.conversions);
  }

  const firstDay = Math.floor(nowS / DAY_S) - o.days + 1;
  for (const c of CAMPAIGNS) {
    const spend = Math.round(o.conversions * (2 + o.random() * 8)) / CAMPAIGNS.length;
    await store.setCampaignCost(o.env.id, c, firstDay, firstDay + o.days - 1, spend, 'EUR');
  }
  const settled = await store.settleDeliveries(o.env.id, o.nowMs);
  // The dashboard is opened right after seeding, before autovacuum would have run.
  await store.refreshStatistics();
  return {
    touches: o.touches,
    purchases: o.conversions,
    deliveries_settled: settled,
    ms: Date.now() - started,
  };
}
