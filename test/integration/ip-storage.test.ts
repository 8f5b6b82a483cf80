/**
 * IP storage (issue 6): with `ip_storage: hmac` (the default) no raw IP is ever written to a
 * table, yet IP matching still attributes, and the platform that needs the address gets it
 * from the outbox row, which drops it once delivered. `truncated` keeps the /24.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { SQLITE_FILE } from '../../src/store/sqlite/open-sqlite.js';
import { postEvents, startPixeltrail, tempDir, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

const IP = '203.0.113.77';
const TABLES = [
  'touches',
  'events',
  'outbox',
  'conversions',
  'identity_links',
  'delivery_attempts',
];

let meta: Receiver;
let server: Server;
let base: string;
let dataDir: string;

beforeAll(async () => {
  meta = await startReceiver(() => ({ status: 200, body: { events_received: 1 } }));
  dataDir = tempDir();
  const env = (id: string, key: string, extra: Record<string, unknown>) => ({
    id,
    write_key: key,
    destinations: [
      {
        id: 'meta1',
        type: 'meta',
        pixel_id: '1234567890',
        access_token: 'EAAtoken',
        base_url: meta.url,
        events: ['Purchase'],
      },
    ],
    ...extra,
  });
  ({ server, base } = await startPixeltrail(
    {
      admin_token: 'adm',
      log_level: 'silent',
      trust_proxy: true,
      environments: [env('env_h', 'wk_h', {}), env('env_tr', 'wk_tr', { ip_storage: 'truncated' })],
    },
    dataDir,
  ));
});
afterAll(async () => {
  await server?.close();
  await meta?.close();
});

function tableText(db: BetterSqlite3.Database): string {
  return TABLES.map((t) => JSON.stringify(db.prepare(`SELECT * FROM ${t}`).all())).join('\n');
}

describe('ip_storage', () => {
  it('IP01 hmac: matched by IP, sent raw to the platform, never written to any table or file', async () => {
    await fetch(`${base}/i?env_id=env_h&dest_id=meta1&imp_id=IMP-IP1`, {
      headers: { 'user-agent': UA, 'x-forwarded-for': IP },
    });
    await server.services.pipeline.flush();
    const res = await postEvents(
      base,
      [
        {
          event_name: 'Purchase',
          event_id: 'ord-ip1',
          user: { ip: IP, user_agent: UA },
          properties: { value: 5, currency: 'EUR' },
        },
      ],
      'wk_h',
    );
    expect(res.body.accepted).toBe(1);
    const sent = await waitFor(() => meta.got[0]);
    expect(JSON.parse(sent.body).data[0].user_data.client_ip_address).toBe(IP);
    const conv = await waitFor(async () => {
      const rows = await server.services.store.listConversions({ env_id: 'env_h', limit: 10 });
      return rows.find((c) => c.event_id === 'ord-ip1');
    });
    expect(conv?.attribution).toMatchObject({ imp_id: 'IMP-IP1', match_key: 'ip+ua' });
    await waitFor(async () => (await server.services.store.counts('env_h')).outbox_delivered === 1);

    const db = new BetterSqlite3(path.join(dataDir, SQLITE_FILE));
    try {
      const text = tableText(db);
      expect(text).toContain('h:');
      expect(text).not.toContain(IP);
      db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      db.close();
    }
    // secure_delete: the outbox row's old raw_ip is not left in a free page of the file.
    expect(readFileSync(path.join(dataDir, SQLITE_FILE)).includes(Buffer.from(IP))).toBe(false);
  });

  it('IP02 truncated keeps the /24 only', async () => {
    await fetch(`${base}/i?env_id=env_tr&dest_id=meta1&imp_id=IMP-IP2`, {
      headers: { 'user-agent': UA, 'x-forwarded-for': '198.51.100.23' },
    });
    await server.services.pipeline.flush();
    const touches = await server.services.store.ingest((tx) =>
      tx.findTouches({ env_id: 'env_tr', anonymous_ids: [], touch_ids: ['IMP-IP2'], since: 0 }),
    );
    expect(touches.map((t) => t.ip)).toEqual(['198.51.100.0']);
  });

  it('IP03 one address in two spellings is one person: IPv4-mapped pixel, IPv4 server event; IPv6 upper and lower case', async () => {
    const cases = [
      { pixel: '::ffff:203.0.113.78', server: '203.0.113.78', id: 'v4' },
      { pixel: '2001:DB8:0:0:0:0:0:7', server: '2001:db8::7', id: 'v6' },
    ];
    for (const c of cases) {
      await fetch(`${base}/i?env_id=env_h&dest_id=meta1&imp_id=IMP-IP3-${c.id}`, {
        headers: { 'user-agent': `${UA} ip3-${c.id}`, 'x-forwarded-for': c.pixel },
      });
      await server.services.pipeline.flush();
      const res = await postEvents(
        base,
        [
          {
            event_name: 'Purchase',
            event_id: `ord-ip3-${c.id}`,
            user: { ip: c.server, user_agent: `${UA} ip3-${c.id}` },
            properties: { value: 5, currency: 'EUR' },
          },
        ],
        'wk_h',
      );
      expect(res.body.accepted).toBe(1);
      const conv = await waitFor(async () => {
        const rows = await server.services.store.listConversions({ env_id: 'env_h', limit: 50 });
        return rows.find((r) => r.event_id === `ord-ip3-${c.id}`);
      });
      expect(conv?.attribution, c.id).toMatchObject({
        imp_id: `IMP-IP3-${c.id}`,
        match_key: 'ip+ua',
      });
    }
  });

  it('IP04 a user.ip that is not an address is refused by name; the rest of the batch is kept', async () => {
    const res = await postEvents(
      base,
      [
        { event_name: 'Lead', event_id: 'ip4-bad', user: { ip: '203.0.113.1:443' } },
        { event_name: 'Lead', event_id: 'ip4-good', user: { ip: '::ffff:203.0.113.1' } },
      ],
      'wk_h',
    );
    expect(res.body.accepted).toBe(1);
    expect(JSON.stringify(res.body)).toContain('user.ip');
    expect(JSON.stringify(res.body)).toContain('is not a valid IP address');
  });
});
