/**
 * Logs never contain PII, keys or tokens (issue 6): a server run at debug level is fed
 * PII-laden requests on every endpoint — emails and phones in bodies and URLs, IPs, wrong and
 * right keys, and a destination that echoes the request back in its error — and the captured
 * log lines contain none of them.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactText } from '../../src/http/plugins/log-redaction.js';
import type { Server } from '../../src/server.js';
import { startPixeltrail, tempDir, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';

const EMAIL = 'jane.doe@example.com';
const PHONE = '+33 6 12 34 56 78';
const IP = '203.0.113.199';
const WRITE_KEY = 'wk_live_SECRET123';
const ADMIN = 'adm_live_SECRET456';
const META_TOKEN = 'EAAG_meta_SECRET789';
const SECRETS = [EMAIL, 'jane.doe', '612345678', IP, WRITE_KEY, ADMIN, META_TOKEN, 'SECRET'];

let platform: Receiver;
let server: Server;
let base: string;
const lines: string[] = [];

beforeAll(async () => {
  // The platform refuses with an error body echoing what it was sent, as some do.
  platform = await startReceiver((rec) => ({
    status: 400,
    body: { error: { message: `bad request for ${EMAIL} from ${IP}: ${rec.body.slice(0, 400)}` } },
  }));
  const capture = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  ({ server, base } = await startPixeltrail(
    {
      admin_token: ADMIN,
      log_level: 'debug',
      trust_proxy: true,
      environments: [
        {
          id: 'env_log',
          write_key: WRITE_KEY,
          ip_storage: 'raw',
          destinations: [
            {
              id: 'meta1',
              type: 'meta',
              pixel_id: '1234567890',
              access_token: META_TOKEN,
              base_url: platform.url,
              events: ['Purchase'],
              attributed_only: false,
            },
          ],
        },
      ],
    },
    tempDir(),
    { logStream: capture },
  ));
});
afterAll(async () => {
  await server?.close();
  await platform?.close();
});

describe('log redaction', () => {
  it('G01 PII-laden traffic on every endpoint leaves no email, phone, IP or key in the logs', async () => {
    const headers = { 'user-agent': UA, 'x-forwarded-for': IP };
    const q = `email=${encodeURIComponent(EMAIL)}&phone=${encodeURIComponent(PHONE)}`;
    await fetch(`${base}/i?env_id=env_log&dest_id=meta1&imp_id=IMP-L&${q}`, { headers });
    await fetch(`${base}/p?env_id=env_log&ev=Lead&${q}`, { headers });
    await fetch(`${base}/c?env_id=env_log&url=https://evil.example/?${q}`, { headers });
    await fetch(`${base}/e?${q}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'text/plain' },
      body: `{"events":[{"event_name":"Lead","env_id":"env_log","user":{"email":"${EMAIL}"}}`,
    });
    for (const key of [WRITE_KEY, `${WRITE_KEY}x`, ADMIN]) {
      await fetch(`${base}/v1/events?${q}`, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          events: [
            {
              event_name: 'Purchase',
              event_id: `ord-log-${key.length}`,
              user: { email: EMAIL, phone: PHONE, ip: IP, user_agent: UA },
              properties: { value: 1, currency: 'EUR', url: `https://shop.example/?${q}` },
            },
            { event_name: 'Purchase', user: { email: 'not-an-email', phone: PHONE } },
          ],
        }),
      });
    }
    await fetch(`${base}/api/stats?${q}`, { headers: { authorization: `Bearer ${WRITE_KEY}` } });
    await fetch(`${base}/api/subjects?env_id=env_log&email=${encodeURIComponent(EMAIL)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    // The platform's echo of the request is logged as the failed delivery's detail.
    await waitFor(() => platform.got.length > 0);
    await waitFor(() => lines.some((l) => l.includes('delivery not completed')));
    expect(lines.length).toBeGreaterThan(0);
    const leaks = lines.filter((l) => SECRETS.some((s) => l.includes(s)));
    expect(leaks).toEqual([]);
  });

  it('G02 redactText masks emails, phones, IPv4/IPv6, bearer and query tokens', () => {
    const out = redactText(
      `to ${EMAIL} at ${PHONE} from ${IP} and 2001:db8::1:5 with Bearer abc.def ` +
        `?access_token=${META_TOKEN}&x=1 "api_secret":"s3" sig=abcdef`,
    );
    for (const s of [EMAIL, '12 34 56', IP, 'abc.def', META_TOKEN, 's3', 'abcdef'])
      expect(out).not.toContain(s);
  });
});
