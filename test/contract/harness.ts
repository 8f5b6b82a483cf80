import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Server } from '../../src/server.js';
import { postEvents, startPixeltrail, tempDir, UA, waitFor } from '../helpers/pixeltrail.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { deliveriesSettled } from '../helpers/settled.js';

const SCHEMA_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'schemas');
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
/**
 * Each schema compiled once: Ajv keeps what it compiles, and the contract files share one
 * process (vitest.config.ts), so a schema parsed anew per call grew its cache all run long.
 */
const validators = new Map<string, ValidateFunction>();

/**
 * Validates `body` against `test/contract/schemas/<name>.json` (a JSON Schema written from
 * the platform's public documentation); returns the list of violations, empty when valid.
 */
export function schemaErrors(name: string, body: unknown): string[] {
  let validate = validators.get(name);
  if (!validate) {
    validate = ajv.compile(
      JSON.parse(readFileSync(path.join(SCHEMA_DIR, `${name}.json`), 'utf8')),
    ) as ValidateFunction;
    validators.set(name, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
}

/** A platform stand-in on 127.0.0.1 plus a pixeltrail sending to it. */
export interface DestinationRig {
  base: string;
  platform: Receiver;
  server: Server;
  close(): Promise<void>;
  /** An impression for dsp1 from the test browser (same IP and UA as `purchase`). */
  impression(impId: string, extraQuery?: string): Promise<void>;
  /** POSTs events to /v1/events (write key wk_t, env env_t). */
  send(events: unknown[]): Promise<{ status: number; body: any }>;
  /** Waits until the platform received `n` requests, then returns them. */
  received(n: number, ms?: number): Promise<Receiver['got']>;
  /** Returns once no more requests will come (helpers/settled.ts): the count is final. */
  settled(): Promise<void>;
}

/**
 * Starts a receiver playing the platform and a pixeltrail whose only destination `dsp1` is
 * `dest` (its `base_url` pointed at the receiver; pass a function of the receiver's URL for
 * settings that need it). `respond` decides each answer.
 */
export async function destinationRig(
  dest: Record<string, unknown> | ((platformUrl: string) => Record<string, unknown>),
  respond: Receiver['respond'] = () => 200,
): Promise<DestinationRig> {
  const platform = await startReceiver(respond);
  const config = {
    admin_token: 'adm',
    log_level: 'silent',
    environments: [
      {
        id: 'env_t',
        name: 'Contract shop',
        write_key: 'wk_t',
        allowed_origins: ['*'],
        click_url_hosts: ['shop.example'],
        destinations: [
          {
            id: 'dsp1',
            events: ['Purchase', 'Lead', 'AddToCart'],
            retry: { base_delay: '100ms' },
            timeout: '2s',
            base_url: platform.url,
            ...(typeof dest === 'function' ? dest(platform.url) : dest),
          },
        ],
      },
    ],
  };
  const { server, base } = await startPixeltrail(config, tempDir());
  return {
    base,
    platform,
    server,
    async close() {
      await server.close();
      await platform.close();
    },
    async impression(impId, extraQuery = '') {
      await fetch(
        `${base}/i?env_id=env_t&dest_id=dsp1&imp_id=${impId}&campaign_id=c1${extraQuery}`,
        {
          headers: { 'user-agent': UA },
        },
      );
    },
    send: (events) => postEvents(base, events),
    async received(n, ms = 10_000) {
      await waitFor(() => platform.got.length >= n, ms);
      return platform.got;
    },
    settled: () => deliveriesSettled(server),
  };
}
