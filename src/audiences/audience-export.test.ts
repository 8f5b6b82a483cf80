import { describe, expect, it } from 'vitest';
import { exportCsvPieces, exportRequests, MAX_ROWS, requestBatches } from './audience-export.js';

const person = (n: number, email: boolean, phone: boolean) => ({
  person: `u:${n}`,
  ids: {
    extern_id_sha256: `x${n}`,
    email_sha256: email ? `e${n}` : null,
    phone_sha256: phone ? `p${n}` : null,
    phone_e164_sha256: phone ? `q${n}` : null,
  },
});

const target = {
  base_url: 'http://127.0.0.1:9',
  access_token: 't',
  platform_audience_id: 'a1',
  account_id: '7',
};

describe('requestBatches', () => {
  it('AX01 TikTok batches hold persons with the same ids, so each is exactly one request', () => {
    const persons = [person(1, true, false), person(2, false, true), person(3, true, true)];
    const batches = requestBatches('tiktok', [...persons, person(4, false, false)]);
    expect(batches.map((b) => b.map((p) => p.person))).toEqual([['u:1'], ['u:2'], ['u:3']]);
    for (const b of batches) {
      const reqs = exportRequests(
        { ...target, platform: 'tiktok' },
        'add',
        b.map((p) => p.ids),
      );
      expect(reqs).toHaveLength(1);
    }
  });

  it('AX02 Meta takes every person (EXTERN_ID) in batches of at most its limit', () => {
    const persons = Array.from({ length: MAX_ROWS.meta + 1 }, (_, i) => person(i, false, false));
    const batches = requestBatches('meta', persons);
    expect(batches.map((b) => b.length)).toEqual([MAX_ROWS.meta, 1]);
  });

  it('AX03 Google skips persons without an email or phone', () => {
    expect(requestBatches('google_ads', [person(1, false, false)])).toEqual([]);
    expect(requestBatches('google_ads', [person(1, true, false), person(2, false, true)])).toEqual([
      [person(1, true, false), person(2, false, true)],
    ]);
  });
});

describe('exportCsvPieces', () => {
  it('AX04 the pieces make one CSV: a header, then one line per person, none lost at a piece edge', () => {
    const rows = Array.from({ length: 2_501 }, (_, n) => person(n, n % 2 === 0, n % 3 === 0).ids);
    const pieces = [...exportCsvPieces(rows)];
    expect(pieces.length).toBeGreaterThan(3);
    const lines = pieces.join('').split('\n');
    expect(lines[0]).toBe('extern_id_sha256,email_sha256,phone_sha256,phone_e164_sha256');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(1, -1)).toEqual(
      rows.map(
        (r) =>
          `${r.extern_id_sha256},${r.email_sha256 ?? ''},${r.phone_sha256 ?? ''},${r.phone_e164_sha256 ?? ''}`,
      ),
    );
  });
});
