import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config-load.js';

describe('loadConfig', () => {
  it('CL01 the secrets keys come from the environment, which wins over the file; previous keys comma-separated', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'pixeltrail-config-')), 'c.json');
    writeFileSync(
      file,
      JSON.stringify({
        admin_token: 'adm',
        secrets_key: 'f'.repeat(40),
        environments: [{ id: 'env_a', write_key: 'wk', destinations: [] }],
      }),
    );
    const config = loadConfig({
      PIXELTRAIL_CONFIG: file,
      PIXELTRAIL_SECRETS_KEY: 'n'.repeat(40),
      PIXELTRAIL_SECRETS_KEY_PREVIOUS: `${'a'.repeat(40)}, ${'b'.repeat(40)}`,
    });
    expect(config.secrets_key).toBe('n'.repeat(40));
    expect(config.secrets_key_previous).toEqual(['a'.repeat(40), 'b'.repeat(40)]);
    expect(() =>
      loadConfig({ PIXELTRAIL_CONFIG: file, PIXELTRAIL_SECRETS_KEY_PREVIOUS: 'short' }),
    ).toThrow(/secrets_key_previous\[0\]: must be at least 32 characters/);
  });
});
