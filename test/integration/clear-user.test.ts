/**
 * Issue 20 §3, clear name and address values: LinkedIn's `userInfo` takes the name and country
 * in clear, so the values the event brought ride on LinkedIn's outbox row only, never on
 * Meta's (hashed) or Google Ads' (click uploads take no address), never in the events table,
 * and are dropped once the row is done. A server copy arriving inside the merge window after
 * the browser's beacon still gets its names to LinkedIn.
 */
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { SQLITE_FILE } from '../../src/store/sqlite/open-sqlite.js';
import { postEvents, startPixeltrail, tempDir, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

const T0 = Date.now();
const LI_FAT_ID = 'df5gf5-gh6t7-ph4j7h-fgf6n1';
const CLEAR = {
  first_name: 'Marie-Thérèse',
  last_name: 'Okonkwo',
  city: 'Lagos',
  state: 'Lagos State',
  zip: '100001',
  country: 'Nigeria',
};
/** The clear values, as they would appear in any table or body that leaked them. */
const LEAKS = /Thérèse|Okonkwo|Lagos|100001|Nigeria/;

let now = T0;
let running: Array<{ server: Server; receivers: Receiver[] }> = [];
afterEach(async () => {
  for (const r of running) {
    await r.server.close();
    for (const x of r.receivers) await x.close();
  }
  running = [];
  now = T0;
});

async function start() {
  const li = await startReceiver((req) => {
    const n = JSON.parse(req.body).elements.length;
    return { status: 200, body: { elements: Array.from({ length: n }, () => ({ status: 201 })) } };
  });
  const meta = await startReceiver(() => ({ status: 200, body: { events_received: 1 } }));
  const ads = await startReceiver(() => ({ status: 200, body: { results: [{}] } }));
  const common = { events: ['Purchase'], attributed_only: false, merge_window: '30s' };
  const dataDir = tempDir();
  const { server, base } = await startPixeltrail(
    {
      admin_token: 'adm',
      log_level: 'silent',
      environments: [
        {
          id: 'env_t',
          write_key: 'wk_t',
          allowed_origins: ['http://shop.test'],
          destinations: [
            {
              ...common,
              id: 'li',
              type: 'linkedin',
              conversion_urn: 'urn:lla:llaPartnerConversion:104012',
              access_token: 'AQV-token',
              base_url: li.url,
            },
            {
              ...common,
              id: 'fb',
              type: 'meta',
              pixel_id: '1234567890',
              access_token: 'EAAB-token',
              base_url: meta.url,
            },
            {
              ...common,
              id: 'gads',
              type: 'google_ads',
              customer_id: '123-456-7890',
              conversion_action: '987654',
              developer_token: 'dev-token',
              access_token: 'ya29.token',
              base_url: ads.url,
            },
          ],
        },
      ],
    },
    dataDir,
    { nowMs: () => now },
  );
  running.push({ server, receivers: [li, meta, ads] });
  return { server, base, li, meta, ads, dataDir };
}

/** Each outbox row's destination and clear_user column, read from the database file. */
function outboxColumns(dataDir: string): Record<string, string | null> {
  const db = new BetterSqlite3(path.join(dataDir, SQLITE_FILE), { readonly: true });
  try {
    const rows = db.prepare('SELECT dest_id, clear_user FROM outbox').all() as Array<{
      dest_id: string;
      clear_user: string | null;
    }>;
    return Object.fromEntries(rows.map((r) => [r.dest_id, r.clear_user]));
  } finally {
    db.close();
  }
}

function tablesText(
  dataDir: string,
  tables = ['events', 'outbox', 'conversions', 'delivery_attempts', 'identity_links'],
): string {
  const db = new BetterSqlite3(path.join(dataDir, SQLITE_FILE), { readonly: true });
  try {
    return tables.map((t) => JSON.stringify(db.prepare(`SELECT * FROM ${t}`).all())).join('\n');
  } finally {
    db.close();
  }
}

const serverCopy = (eventId: string, user: Record<string, unknown> = {}) => ({
  event_name: 'Purchase',
  event_id: eventId,
  user: {
    email: 'Test@Example.com',
    gclid: 'Cj0-gclid',
    li_fat_id: LI_FAT_ID,
    ip: '203.0.113.9',
    user_agent: UA,
    ...user,
  },
  properties: { value: 49.9, currency: 'EUR' },
});

describe('clear name and address values (issue 20 §3)', () => {
  it('CU01 LinkedIn gets userInfo in clear; only its row held the values, none of them is stored once sent', async () => {
    const { server, base, li, meta, ads, dataDir } = await start();
    const res = await postEvents(base, [serverCopy('ord-cu1', CLEAR)]);
    expect(res.body).toMatchObject({ accepted: 1, errors: [] });
    // Held by the merge window: the rows wait, and only LinkedIn's carries clear values.
    const waiting = outboxColumns(dataDir);
    expect(JSON.parse(waiting.li ?? 'null')).toEqual({
      first_name: 'Marie-Thérèse',
      last_name: 'Okonkwo',
      country: 'Nigeria',
    });
    expect(waiting.fb).toBeNull();
    expect(waiting.gads).toBeNull();
    expect(tablesText(dataDir, ['events', 'conversions', 'identity_links'])).not.toMatch(LEAKS);

    now = T0 + 31_000;
    expect(await server.services.worker.drainOnce()).toBe(3);
    const [element] = JSON.parse(li.got[0].body).elements;
    expect(element.user.userInfo).toEqual({
      firstName: 'Marie-Thérèse',
      lastName: 'Okonkwo',
      countryCode: 'NG',
    });
    // Meta gets the hashes it always got; Google Ads no address at all.
    const fb = JSON.parse(meta.got[0].body).data[0].user_data;
    expect(fb.fn).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    expect(meta.got[0].body).not.toMatch(LEAKS);
    expect(ads.got[0].body).not.toMatch(LEAKS);

    await waitFor(async () => (await server.services.store.counts('env_t')).outbox_delivered === 3);
    expect(outboxColumns(dataDir)).toEqual({ li: null, fb: null, gads: null });
    expect(tablesText(dataDir)).not.toMatch(LEAKS);
  });

  it('CU02 the browser beacon first, the server copy with the names inside the merge window: LinkedIn gets them', async () => {
    const { server, base, li, dataDir } = await start();
    const beacon = await fetch(`${base}/e`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://shop.test', 'user-agent': UA },
      body: JSON.stringify({
        env_id: 'env_t',
        event_name: 'Purchase',
        event_id: 'ord-cu2',
        user: { anonymous_id: 'anon-cu-1234', li_fat_id: LI_FAT_ID },
        properties: { value: 49.9, currency: 'EUR' },
      }),
    });
    expect(beacon.status).toBe(204);
    await server.services.pipeline.flush();
    expect(outboxColumns(dataDir).li).toBeNull();

    now = T0 + 500;
    expect((await postEvents(base, [serverCopy('ord-cu2', CLEAR)])).body).toMatchObject({
      duplicates: 1,
    });
    expect(JSON.parse(outboxColumns(dataDir).li ?? 'null')).toMatchObject({
      first_name: 'Marie-Thérèse',
    });
    expect(outboxColumns(dataDir).fb).toBeNull();

    now = T0 + 31_000;
    await server.services.worker.drainOnce();
    const [element] = JSON.parse(li.got[0].body).elements;
    expect(element.user.userInfo).toMatchObject({
      firstName: 'Marie-Thérèse',
      lastName: 'Okonkwo',
    });
    await waitFor(async () => (await server.services.store.counts('env_t')).outbox_delivered === 3);
    expect(tablesText(dataDir)).not.toMatch(LEAKS);
  });

  it('CU03 the live debugger never shows the clear values', async () => {
    const { server, base } = await start();
    const res = await fetch(`${base}/api/live?env_id=env_t`, {
      headers: { authorization: 'Bearer adm' },
    });
    const reader = res.body?.getReader();
    if (!reader) throw new Error('no stream');
    await waitFor(() => server.services.live.listening === 1);
    await postEvents(base, [serverCopy('ord-cu3', CLEAR)]);
    let text = '';
    while (!text.includes('ord-cu3')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    expect(text).toContain('first_name_sha256');
    expect(text).not.toMatch(LEAKS);
  });
});
