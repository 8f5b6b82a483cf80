import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMBER_PAGE_ROWS } from '../../src/store/kysely/memberships.js';
import { watchStatements } from '../helpers/statement-turns.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();
type Opened = Awaited<ReturnType<(typeof STORE_KINDS)[string]>>;

/**
 * Persons with one browser row each, and a user id row as well for every seventh after the
 * first page and for the person whose rows the first page ends between.
 */
const PERSONS = Math.floor(MEMBER_PAGE_ROWS * 1.9);
const SPLIT = MEMBER_PAGE_ROWS - 1;
const hasUser = (i: number) => i === SPLIT || (i > SPLIT && i % 7 === 0);
const person = (i: number) => `u:${String(i).padStart(6, '0')}`;

const member = (p: string, key_type: string, key_value: string, is_member = 1) => ({
  env_id: 'env',
  audience_id: 'aud',
  key_type,
  key_value,
  person: p,
  member: is_member,
  changes_at: null,
  email_sha256: null,
  phone_sha256: null,
  phone_e164_sha256: null,
  updated_at_ms: 0,
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(
    `audience members read in pages on ${kind}`,
    () => {
      let opened: Opened;
      beforeAll(async () => {
        opened = await STORE_KINDS[kind]();
        const rows = Array.from({ length: PERSONS }, (_, i) => [
          member(person(i), 'anonymous_id', `a${i}`),
          ...(hasUser(i) ? [member(person(i), 'user_id', `user${i}`)] : []),
        ]).flat();
        rows.push(member('u:gone', 'anonymous_id', 'gone', 0));
        for (let at = 0; at < rows.length; at += 500)
          await opened.store.db
            .insertInto('audience_members')
            .values(rows.slice(at, at + 500))
            .execute();
      });
      afterAll(() => opened?.dispose());

      it('MB01 one row per member, the user id when known, a page a read, the event loop turning between pages', async () => {
        const { store } = opened;
        const { value: members, sent } = await watchStatements(store.db, () =>
          store.audienceMembers('env', 'aud'),
        );
        expect(members.map((m) => m.person)).toEqual(
          Array.from({ length: PERSONS }, (_, i) => person(i)),
        );
        expect(members.map((m) => m.key_value)).toEqual(
          Array.from({ length: PERSONS }, (_, i) => (hasUser(i) ? `user${i}` : `a${i}`)),
        );
        const reads = sent.filter((s) => /from "audience_members"/.test(s.sql));
        expect(reads.length).toBeGreaterThanOrEqual(2);
        for (let i = 1; i < reads.length; i++)
          expect(reads[i]?.turn ?? 0).toBeGreaterThan(reads[i - 1]?.turn ?? 0);
      });
    },
  );
}
