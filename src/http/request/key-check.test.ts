import { describe, expect, it } from 'vitest';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import { environmentForKey, KnownSecrets, secretDigest } from './key-check.js';

const env = (id: string, write_key: string, previous: string[] = []) =>
  ({ id, write_key, previous_write_keys: previous }) as unknown as EnvironmentConfig;

describe('known secrets, hashed once', () => {
  it('KC01 a presented secret matches by text or by its digest; an empty known secret never matches', () => {
    const known = new KnownSecrets([
      ['wk_live', 'live'],
      ['', 'empty'],
    ] as const);
    expect(known.match('wk_live')).toBe('live');
    expect(known.match(secretDigest('wk_live'))).toBe('live');
    expect(known.match('wk_liv')).toBeUndefined();
    expect(known.match('')).toBeUndefined();
  });

  it('KC02 a write key finds its environment, the previous key too while it rotates; a new snapshot sees its own keys', () => {
    const envs = [env('a', 'wk_a'), env('b', 'wk_b2', ['wk_b1'])];
    expect(environmentForKey(envs, 'wk_a')?.id).toBe('a');
    expect(environmentForKey(envs, 'wk_b1')?.id).toBe('b');
    expect(environmentForKey(envs, secretDigest('wk_b2'))?.id).toBe('b');
    expect(environmentForKey(envs, 'wk_c')).toBeUndefined();
    // A config edit makes a new snapshot: the rotated-out key no longer works there.
    const next = [env('a', 'wk_a'), env('b', 'wk_b3', ['wk_b2'])];
    expect(environmentForKey(next, 'wk_b1')).toBeUndefined();
    expect(environmentForKey(next, 'wk_b3')?.id).toBe('b');
    expect(environmentForKey(envs, 'wk_b1')?.id).toBe('b');
  });
});
