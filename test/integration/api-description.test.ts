/**
 * The API describes itself (issue 21): `GET /openapi.json` from the routes' schemas,
 * docs/endpoints.md generated from it and kept equal to it, and 400s that name each bad
 * field once, in words.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINTS_DOC, renderEndpoints } from '../../scripts/endpoints-doc.mjs';
import type { Server } from '../../src/server.js';
import { admin, startPixeltrail, tempDir, testConfig, UA } from '../helpers/pixeltrail.js';

let server: Server;
let base: string;
let openapi: any;

beforeAll(async () => {
  ({ server, base } = await startPixeltrail(testConfig('http://127.0.0.1:9/hook'), tempDir()));
  const res = await fetch(`${base}/openapi.json`);
  expect(res.status).toBe(200);
  openapi = await res.json();
});
afterAll(async () => server?.close());

describe('API description', () => {
  it('AD01 GET /openapi.json describes the routes from their schemas, tagged collect, admin or system', () => {
    expect(openapi.openapi).toMatch(/^3\./);
    expect(openapi.tags.map((t: { name: string }) => t.name)).toEqual([
      'collect',
      'admin',
      'system',
    ]);
    const reports = openapi.paths['/api/reports'].get;
    expect(reports.tags).toEqual(['admin']);
    expect(reports.security).toEqual([{ adminToken: [] }, { session: [] }]);
    const groupBy = reports.parameters.find((p: { name: string }) => p.name === 'group_by');
    expect(groupBy).toMatchObject({ in: 'query', required: false });
    expect(openapi.paths['/v1/events'].post.tags).toEqual(['collect']);
    expect(openapi.paths['/v1/events'].post.requestBody.content['application/json']).toBeDefined();
    expect(openapi.paths['/healthz'].get.tags).toEqual(['system']);
    // The dashboard's files and CORS preflights are no endpoints of their own.
    expect(Object.keys(openapi.paths).filter((p) => p.startsWith('/ui'))).toEqual([]);
    expect(openapi.paths['/e'].options).toBeUndefined();
  });

  it('AD02 the pixel the fast path answers is described too, with what it reads', () => {
    const pixel = openapi.paths['/i'].get;
    expect(pixel.tags).toEqual(['collect']);
    const params = pixel.parameters.map((p: { name: string; required: boolean }) => [
      p.name,
      p.required,
    ]);
    expect(params).toEqual(
      expect.arrayContaining([
        ['env_id', true],
        ['dest_id', true],
        ['imp_id', true],
        ['campaign_id', false],
      ]),
    );
  });

  it('AD03 described, not checked: a pixel with a repeated parameter still gets its GIF and no warning about it', async () => {
    const res = await fetch(`${base}/i?env_id=env_t&dest_id=dsp1&imp_id=ad03&cb=1&cb=2`, {
      // An Authorization header sends the hit past the fast path, to Fastify's route.
      headers: { authorization: 'Bearer x', 'user-agent': UA },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('x-pixeltrail-warnings')).toBeNull();
  });

  it(`AD04 ${ENDPOINTS_DOC} is generated from GET /openapi.json (run npm run docs:endpoints)`, () => {
    const checkedIn = readFileSync(ENDPOINTS_DOC, 'utf8');
    const generated = renderEndpoints(openapi);
    if (checkedIn !== generated)
      throw new Error(
        `${ENDPOINTS_DOC} differs from GET /openapi.json: run npm run docs:endpoints and commit it`,
      );
  });

  it('AD05 a value outside a list is one error naming the field and the values, not one per value', async () => {
    const r = await admin(base, '/api/reports?env_id=env_t&group_by=week');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      error: {
        code: 'invalid_request',
        message: 'group_by must be one of: day, campaign, creative, destination, total',
      },
      errors: [
        {
          field: 'group_by',
          message: 'must be one of: day, campaign, creative, destination, total',
        },
      ],
    });
  });

  it('AD06 a missing field and a wrong type read as words', async () => {
    const missing = await admin(base, '/api/reports');
    expect(missing.body.errors).toEqual([{ field: 'env_id', message: 'is required' }]);
    const notNumber = await admin(base, '/api/conversions?limit=abc');
    expect(notNumber.body.errors).toEqual([{ field: 'limit', message: 'must be an integer' }]);
    const events = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wk_t' },
      body: '{"events":5}',
    });
    expect(await events.json()).toMatchObject({
      error: { message: 'events must be a list' },
      errors: [{ field: 'events', message: 'must be a list' }],
    });
  });
});
