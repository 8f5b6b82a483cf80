/**
 * Smaller gaps of issue 18 (item 7), against a real server: report times out of range are a
 * 400 naming the field, the live debugger caps its streams and shows IPs as stored, and
 * `/metrics` can require a token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LIVE_STREAMS, MAX_LIVE_STREAMS_PER_TOKEN } from '../../src/http/admin/debugger.js';
import type { Server } from '../../src/server.js';
import {
  admin,
  postEvents,
  startPixeltrail,
  tempDir,
  testConfig,
  UA,
  waitFor,
} from '../helpers/pixeltrail.js';

let server: Server;
let base: string;
const OTHER_TOKEN = 'adm_previous_token_2';

beforeAll(async () => {
  ({ server, base } = await startPixeltrail(
    {
      ...testConfig('http://127.0.0.1:9/hook', {}, { ip_storage: 'hmac' }),
      previous_admin_tokens: [OTHER_TOKEN],
      metrics_token: 'metrics-token-0123456789',
      rate_limit: { auth_failures: 0 },
    },
    tempDir(),
  ));
});
afterAll(async () => server?.close());

/** Opens a live stream; resolves once it is connected (or with the refusal). */
async function openStream(headers: Record<string, string>) {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/live`, { headers, signal: abort.signal });
  if (res.status !== 200) return { status: res.status, body: await res.json(), close: () => {} };
  const reader = res.body?.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const read = async (until: (t: string) => boolean) => {
    while (!until(text)) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      text += decoder.decode(chunk.value);
    }
    return text;
  };
  await read((t) => t.includes(': connected'));
  return { status: 200, body: null, read, close: () => abort.abort() };
}

describe('reports', () => {
  it('G01 a time past year 9999 is a 400 naming the field, not a 500', async () => {
    for (const field of ['to', 'from']) {
      const res = await admin(base, `/api/reports?env_id=env_t&${field}=9000000000000`);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ field })]);
    }
  });
});

describe('live debugger', () => {
  it('G02 caps the streams one token holds, and says so; closing one frees its place', async () => {
    const auth = { authorization: 'Bearer adm' };
    const open = [];
    for (let i = 0; i < MAX_LIVE_STREAMS_PER_TOKEN; i++) open.push(await openStream(auth));
    expect(open.map((s) => s.status)).toEqual(Array(MAX_LIVE_STREAMS_PER_TOKEN).fill(200));
    const over = await openStream(auth);
    expect(over.status).toBe(429);
    expect(over.body.error.message).toMatch(
      new RegExp(`at most ${MAX_LIVE_STREAMS_PER_TOKEN} live streams per admin token`),
    );
    // Another credential has its own allowance.
    const other = await openStream({ authorization: `Bearer ${OTHER_TOKEN}` });
    expect(other.status).toBe(200);
    open[0].close();
    const again = await waitFor(async () => {
      const s = await openStream(auth);
      return s.status === 200 ? s : null;
    });
    for (const s of [...open, other, again]) s?.close();
  });

  it('G03 caps the streams of the whole server', async () => {
    const sessions: string[] = [];
    const streams = [];
    for (let i = 0; streams.length < MAX_LIVE_STREAMS; i++) {
      if (i % MAX_LIVE_STREAMS_PER_TOKEN === 0) {
        const login = await fetch(`${base}/api/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token: 'adm' }),
        });
        sessions.push(String(login.headers.get('set-cookie')).split(';')[0]);
      }
      const s = await openStream({ cookie: sessions[sessions.length - 1] });
      // Streams of G02 may still be closing on the server: wait for their places.
      if (s.status === 200) streams.push(s);
    }
    const over = await openStream({ authorization: `Bearer ${OTHER_TOKEN}` });
    expect(over.status).toBe(429);
    expect(over.body.error.message).toMatch(new RegExp(`at most ${MAX_LIVE_STREAMS} live streams`));
    for (const s of streams) s.close();
  });

  it('G04 shows IPs as they are stored: the hash under ip_storage hmac, never the address', async () => {
    const stream = await waitFor(async () => {
      const s = await openStream({ authorization: 'Bearer adm' });
      return s.status === 200 ? s : null;
    });
    await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=IMP-G4`, {
      headers: { 'user-agent': UA },
    });
    await postEvents(base, [
      { event_name: 'Lead', event_id: 'lead-g4', user: { ip: '203.0.113.44', user_agent: UA } },
    ]);
    await server.services.pipeline.flush();
    const text = await stream?.read?.((t) => t.includes('IMP-G4') && t.includes('lead-g4'));
    stream?.close();
    expect(text).not.toContain('203.0.113.44');
    expect(text).not.toContain('127.0.0.1');
    const items = String(text)
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)));
    const touch = items.find((x) => x.touch?.touch_id === 'IMP-G4');
    const event = items.find((x) => x.event?.event_id === 'lead-g4');
    expect(touch.touch.ip).toMatch(/^h:/);
    expect(event.event.user.ip).toMatch(/^h:/);
  });
});

describe('metrics', () => {
  it('G05 with metrics_token, /metrics answers only that Bearer token', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer adm' } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${base}/metrics`, {
      headers: { authorization: 'Bearer metrics-token-0123456789' },
    });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('pixeltrail_');
  });
});
