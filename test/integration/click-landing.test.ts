/**
 * Issue 19 §2: `/c` hands the click id to the landing page (`pt_click_id=`, or the
 * environment's `click_id_param`), so the tag there can carry it first-party. The rest of the
 * landing URL is kept byte for byte; a destination or the link itself can turn it off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config-parse.js';
import { signClick } from '../../src/domain/click-link.js';
import type { Server } from '../../src/server.js';
import { useBuiltTag } from '../helpers/built-tag.js';
import { startPixeltrail, tempDir, testConfig, UA, waitFor } from '../helpers/pixeltrail.js';

let server: Server;
let base: string;

beforeAll(async () => {
  const config = testConfig('http://127.0.0.1:9/hook');
  const env = config.environments[0] as (typeof config.environments)[0] & {
    destinations: Record<string, unknown>[];
    allowed_origins: string[];
  };
  // The sites our tag runs on: by default only their landing URLs get the click id.
  env.allowed_origins = [
    'http://shop.test',
    'https://shop.example',
    'https://landing.other.example',
  ];
  const other = {
    ...env,
    id: 'env_named',
    write_key: 'wk_named',
    click_id_param: 'ref_click',
    destinations: [{ ...env.destinations[0] }],
  };
  env.destinations.push({ ...env.destinations[0], id: 'plain', append_click_id: false });
  env.destinations.push({ ...env.destinations[0], id: 'always', append_click_id: true });
  config.environments.push(other);
  ({ server, base } = await startPixeltrail(config, tempDir()));
});
afterAll(async () => {
  await server?.close();
});

/** Where `/c?<query>` sends the browser. */
async function location(query: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${base}/c?${query}`, {
    headers: { 'user-agent': UA, ...headers },
    redirect: 'manual',
  });
  expect(res.status).toBe(302);
  return res.headers.get('location') ?? '';
}

const to = (url: string) => `url=${encodeURIComponent(url)}`;

describe('the click id travels with the click', () => {
  it('CL01 appends pt_click_id, keeping the query byte for byte and the fragment', async () => {
    const landing = 'https://shop.example/p/1?q=a+b&x=%20y&empty=&utm_source=ads#reviews?tab=2';
    expect(await location(`env_id=env_t&dest_id=dsp1&click_id=CLK-1&${to(landing)}`)).toBe(
      'https://shop.example/p/1?q=a+b&x=%20y&empty=&utm_source=ads&pt_click_id=CLK-1#reviews?tab=2',
    );
  });

  it('CL02 a link without click_id gets the id the click was recorded under', async () => {
    const got = new URL(await location(`env_id=env_t&dest_id=dsp1&${to('https://shop.example/')}`));
    expect(got.searchParams.get('pt_click_id')).toMatch(/^clk_/);
  });

  it('CL03 an earlier pt_click_id in the landing URL is replaced by this click', async () => {
    const landing = 'https://shop.example/?pt_click_id=OLD&a=1&pt_click_id=OLDER';
    expect(await location(`env_id=env_t&dest_id=dsp1&click_id=CLK-3&${to(landing)}`)).toBe(
      'https://shop.example/?a=1&pt_click_id=CLK-3',
    );
  });

  it('CL04 a signed link still verifies, goes to any host, and carries the id', async () => {
    const params = {
      env_id: 'env_t',
      dest_id: 'dsp1',
      click_id: 'CLK-S4',
      url: 'https://landing.other.example/a?b=1#top',
    };
    const sig = signClick('wk_t', params);
    expect(await location(new URLSearchParams({ ...params, sig }).toString())).toBe(
      'https://landing.other.example/a?b=1&pt_click_id=CLK-S4#top',
    );
  });

  it('CL05 the environment names the parameter (click_id_param)', async () => {
    expect(
      await location(`env_id=env_named&dest_id=dsp1&click_id=CLK-5&${to('https://shop.example/')}`),
    ).toBe('https://shop.example/?ref_click=CLK-5');
  });

  it('CL06 a destination with append_click_id: false keeps its landing URL as it is', async () => {
    expect(
      await location(`env_id=env_t&dest_id=plain&click_id=CLK-6&${to('https://shop.example/a')}`),
    ).toBe('https://shop.example/a');
  });

  it('CL07 a link with append_click_id=0 keeps its landing URL, signed or not', async () => {
    expect(
      await location(
        `env_id=env_t&dest_id=dsp1&click_id=CLK-7&append_click_id=0&${to('https://shop.example/')}`,
      ),
    ).toBe('https://shop.example/');
    const params = {
      env_id: 'env_t',
      click_id: 'CLK-7S',
      append_click_id: 'false',
      url: 'https://anywhere.example/',
    };
    const sig = signClick('wk_t', params);
    expect(await location(new URLSearchParams({ ...params, sig }).toString())).toBe(
      'https://anywhere.example/',
    );
  });

  it('CL08 a person who opted out (Sec-GPC) gets no id in the URL', async () => {
    expect(
      await location(`env_id=env_t&dest_id=dsp1&click_id=CLK-8&${to('https://shop.example/')}`, {
        'sec-gpc': '1',
      }),
    ).toBe('https://shop.example/');
  });

  it('CL09 the admin API shows and takes a destination turning it off', async () => {
    const res = await fetch(`${base}/api/destinations?env_id=env_t`, {
      headers: { authorization: 'Bearer adm' },
    });
    const body = (await res.json()) as {
      destinations: { id: string; append_click_id: boolean }[];
    };
    const flags = Object.fromEntries(body.destinations.map((d) => [d.id, d.append_click_id]));
    expect(flags).toMatchObject({ dsp1: 'auto', plain: false, always: true });
  });

  it('CL13 a landing site our tag does not run on keeps its URL unless the link or destination asks', async () => {
    const elsewhere = 'https://elsewhere.example/p?x=1';
    const params = { env_id: 'env_t', dest_id: 'dsp1', click_id: 'CLK-13', url: elsewhere };
    const signed = (p: Record<string, string>) =>
      new URLSearchParams({ ...p, sig: signClick('wk_t', p) }).toString();
    expect(await location(signed(params))).toBe(elsewhere);
    expect(await location(signed({ ...params, append_click_id: '1' }))).toBe(
      `${elsewhere}&pt_click_id=CLK-13`,
    );
    expect(await location(signed({ ...params, dest_id: 'always' }))).toBe(
      `${elsewhere}&pt_click_id=CLK-13`,
    );
  });

  it('CL10 t.js?env_id= tells the tag the parameter name of the environment', async () => {
    useBuiltTag(server);
    const named = await (await fetch(`${base}/t.js?env_id=env_named`)).text();
    expect(named.startsWith('window.pixeltrailClickParam="ref_click";')).toBe(true);
    const plain = await (await fetch(`${base}/t.js?env_id=env_t`)).text();
    expect(plain).not.toContain('pixeltrailClickParam=');
  });

  it('CL11 click_id_param must be a plain parameter name', () => {
    const config = testConfig('http://127.0.0.1:9/hook', {}, { click_id_param: 'a"b;c' });
    const { errors } = parseConfig(config, { port: 0, host: '127.0.0.1', data_dir: tempDir() });
    expect(errors).toEqual([
      {
        field: 'environments[0].click_id_param',
        message: 'must be 1-64 letters, digits, _ . or -',
      },
    ]);
  });

  it('CL12 an edit through the admin API (the dashboard form) turns it off and on again', async () => {
    const patch = (append: boolean) =>
      fetch(`${base}/api/destinations/env_t/dsp1`, {
        method: 'PATCH',
        headers: { authorization: 'Bearer adm', 'content-type': 'application/json' },
        body: JSON.stringify({ append_click_id: append }),
      });
    const link = `env_id=env_t&dest_id=dsp1&click_id=CLK-12&${to('https://shop.example/')}`;
    const off = await patch(false);
    expect(off.status).toBe(200);
    expect(((await off.json()) as { append_click_id: boolean }).append_click_id).toBe(false);
    await waitFor(async () => (await location(link)) === 'https://shop.example/');
    expect((await patch(true)).status).toBe(200);
    await waitFor(
      async () => (await location(link)) === 'https://shop.example/?pt_click_id=CLK-12',
    );
  });
});
