import { describe, expect, it } from 'vitest';
import type { IdentityKey, LinkedAnonymousId } from '../../domain/attribution.js';
import { MAX_TOUCHES_PER_LOOKUP } from './ingest-columns.js';
import { LinkBuffer } from './link-buffer.js';

const user: IdentityKey = { key_type: 'user_id', key_value: 'u1' };
const email: IdentityKey = { key_type: 'email', key_value: 'e1' };
const found = (via: LinkedAnonymousId['via'], ...ids: string[]): LinkedAnonymousId[] =>
  ids.map((anonymous_id) => ({ anonymous_id, via }));

describe('LinkBuffer', () => {
  it('LB01 a key read in full answers its links and those written since, by key in the order asked', () => {
    const b = new LinkBuffer();
    b.learn('env', user, found('user_id', 'a1'));
    b.learn('env', email, []);
    b.link('env', [user, email], 'a0', 100);
    const answer = b.answer('env', [email, user]) ?? [];
    // Key by key in the order asked; within a key, the store's order is not kept.
    expect(answer.map((l) => l.via)).toEqual(['email', 'user_id', 'user_id']);
    expect(answer).toEqual(
      expect.arrayContaining([...found('email', 'a0'), ...found('user_id', 'a0', 'a1')]),
    );
    // Another environment's key of the same value was never read.
    expect(b.answer('other', [user])).toBeUndefined();
  });

  it('LB02 a key not read, or read at the cap, is left to the store', () => {
    const b = new LinkBuffer();
    const full = Array.from({ length: MAX_TOUCHES_PER_LOOKUP }, (_, i) => `a${i}`);
    b.learn('env', user, found('user_id', ...full));
    expect(b.answer('env', [user])).toBeUndefined();
    expect(b.answer('env', [email])).toBeUndefined();
    // Links written to a key not read are written all the same.
    b.link('env', [email], 'a1', 100);
    expect(b.take()).toEqual([
      { env_id: 'env', key_type: 'email', key_value: 'e1', anonymous_id: 'a1', last_seen: 100 },
    ]);
  });

  it('LB03 keys in full that together pass the cap are left to the store, whose order decides what it keeps', () => {
    const b = new LinkBuffer();
    const half = MAX_TOUCHES_PER_LOOKUP / 2;
    b.learn('env', user, found('user_id', ...Array.from({ length: half }, (_, i) => `u${i}`)));
    b.learn('env', email, found('email', ...Array.from({ length: half - 1 }, (_, i) => `e${i}`)));
    expect(b.answer('env', [user, email])).toHaveLength(MAX_TOUCHES_PER_LOOKUP - 1);
    b.link('env', [email], 'e-new', 100);
    expect(b.answer('env', [user, email])).toHaveLength(MAX_TOUCHES_PER_LOOKUP);
    b.link('env', [user], 'u-new', 100);
    expect(b.answer('env', [user, email])).toBeUndefined();
    expect(b.answer('env', [user])).toHaveLength(half + 1);
  });

  it('LB04 a row linked twice is written once, as the later link left it; rows come in key order', () => {
    const b = new LinkBuffer();
    b.link('env', [user], 'a2', 100);
    b.link('env', [email, user], 'a1', 200);
    b.link('env', [user], 'a2', 150);
    const rows = b.take();
    expect(rows.map((r) => [r.key_type, r.anonymous_id, r.last_seen])).toEqual([
      ['email', 'a1', 200],
      ['user_id', 'a1', 200],
      ['user_id', 'a2', 150],
    ]);
    expect(b.take()).toEqual([]);
  });

  it('LB05 the keys not read yet, each once; a read while links wait is refused', () => {
    const b = new LinkBuffer();
    b.learn('env', user, []);
    expect(
      b.unread([
        { env_id: 'env', keys: [user, email] },
        { env_id: 'env', keys: [email] },
        { env_id: 'other', keys: [user] },
      ]),
    ).toEqual([
      { env_id: 'env', key: email },
      { env_id: 'other', key: user },
    ]);
    b.link('env', [user], 'a1', 100);
    expect(() => b.learn('env', email, [])).toThrow(/wait/);
  });

  it('LB07 ids holding the separators of other ids stay apart', () => {
    const b = new LinkBuffer();
    const split: IdentityKey = { key_type: 'user_id', key_value: 'x\ny' };
    const joined: IdentityKey = { key_type: 'user_id', key_value: 'x' };
    b.learn('env', split, []);
    b.learn('env', joined, []);
    b.link('env', [split], 'z', 100);
    b.link('env', [joined], 'y\nz', 100);
    expect(b.take().map((r) => [r.key_value, r.anonymous_id])).toEqual([
      ['x', 'y\nz'],
      ['x\ny', 'z'],
    ]);
    expect(b.answer('env', [joined])).toEqual(found('user_id', 'y\nz'));
  });

  it('LB06 ids as PostgreSQL keeps them: a lone surrogate is U+FFFD, so two ids that differ only there are one', () => {
    const b = new LinkBuffer();
    b.learn('env', { key_type: 'user_id', key_value: 'u\ufffd' }, []);
    b.link('env', [{ key_type: 'user_id', key_value: 'u\ud800' }], 'a\udc00', 100);
    b.link('env', [{ key_type: 'user_id', key_value: 'u\ud801' }], 'a\ud800', 200);
    expect(b.answer('env', [{ key_type: 'user_id', key_value: 'u\udfff' }])).toEqual(
      found('user_id', 'a\ufffd'),
    );
    expect(b.take()).toEqual([
      {
        env_id: 'env',
        key_type: 'user_id',
        key_value: 'u\ufffd',
        anonymous_id: 'a\ufffd',
        last_seen: 200,
      },
    ]);
  });
});
