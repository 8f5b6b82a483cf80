import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from '../../src/server.js';
import { useBuiltTag } from '../helpers/built-tag.js';
import { admin, startPixeltrail, tempDir, testConfig } from '../helpers/pixeltrail.js';

let server: Server;
let base: string;

beforeAll(async () => {
  ({ server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), tempDir()));
  useBuiltTag(server);
});
afterAll(async () => server.close());

const rules = [
  {
    id: 'thanks',
    event_name: 'Purchase',
    trigger: { type: 'url', pattern: '/thank-you*' },
    value_path: 'ecommerce.value',
  },
  { id: 'signup', event_name: 'Lead', trigger: { type: 'click', selector: '#signup' } },
];

describe('codeless trigger rules API', () => {
  it('CT01 an environment starts with no rules; PUT saves them, GET and /rules show them', async () => {
    expect((await admin(base, '/api/environments/env_t/triggers')).body).toEqual({
      env_id: 'env_t',
      rules: [],
      updated_at_ms: null,
    });
    const put = await admin(base, '/api/environments/env_t/triggers', 'PUT', { rules });
    expect(put.status).toBe(200);
    expect(put.body.rules).toEqual(rules);
    expect((await admin(base, '/api/environments/env_t/triggers')).body.rules).toEqual(rules);
    const pub = await fetch(`${base}/rules?env_id=env_t`);
    expect(pub.headers.get('cache-control')).toBe('public, max-age=60');
    expect(await pub.json()).toEqual({ env_id: 'env_t', rules });
  });

  it('CT02 /rules.js is the engine with the rules inlined, cacheable, JavaScript', async () => {
    const res = await fetch(`${base}/rules.js?env_id=env_t`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=60');
    const js = await res.text();
    expect(js.startsWith(`window.__ptr=${JSON.stringify(rules)};`)).toBe(true);
  });

  it('CT03 bad rules are a 400 naming each field, and nothing is saved', async () => {
    const put = await admin(base, '/api/environments/env_t/triggers', 'PUT', {
      rules: [{ event_name: 'Lead', trigger: { type: 'click' } }],
    });
    expect(put.status).toBe(400);
    expect(put.body.errors).toEqual([
      {
        index: null,
        field: 'rules.0.trigger.selector',
        message: 'must be a string of 1 to 256 characters',
      },
    ]);
    expect((await admin(base, '/api/environments/env_t/triggers')).body.rules).toEqual(rules);
  });

  it('CT04 unknown environments are 404; the admin routes need the admin token', async () => {
    expect((await admin(base, '/api/environments/nope/triggers')).status).toBe(404);
    expect((await fetch(`${base}/rules.js?env_id=nope`)).status).toBe(404);
    const anon = await fetch(`${base}/api/environments/env_t/triggers`);
    expect(anon.status).toBe(401);
  });
});

describe('t.js and an environment without rules', () => {
  it('CT10 t.js?env_id= tells the tag not to load rules.js while the environment has none; rules saved count within a minute', async () => {
    let now = Date.now();
    const started = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), tempDir(), {
      nowMs: () => now,
    });
    useBuiltTag(started.server);
    const flag = 'window.pixeltrailRules=false;';
    const tag = async (query: string) => (await fetch(`${started.base}/t.js${query}`)).text();
    try {
      expect(await tag('?env_id=env_t')).toContain(flag);
      // Without env_id the tag cannot know: it loads rules.js (at idle time) as before.
      expect(await tag('')).not.toContain(flag);
      const put = await admin(started.base, '/api/environments/env_t/triggers', 'PUT', { rules });
      expect(put.status).toBe(200);
      now += 61_000;
      expect(await tag('?env_id=env_t')).not.toContain(flag);
    } finally {
      await started.server.close();
    }
  });
});
