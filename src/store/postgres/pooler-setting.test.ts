import { describe, expect, it } from 'vitest';
import { poolerSetting } from './open-postgres.js';

describe('poolerSetting', () => {
  it('PS01 ?pgbouncer=true turns named statements off and is not passed on to the driver', () => {
    expect(
      poolerSetting('postgres://u@db.internal:6432/shop?pgbouncer=true&sslmode=require'),
    ).toEqual({
      connectionString: 'postgres://u@db.internal:6432/shop?sslmode=require',
      namedStatements: false,
    });
    expect(poolerSetting('postgres://u@db:5432/shop')).toEqual({
      connectionString: 'postgres://u@db:5432/shop',
      namedStatements: true,
    });
    expect(poolerSetting('postgres://u@db:5432/shop?pgbouncer=false').namedStatements).toBe(true);
    // Not a URL (a libpq keyword string): left as it is.
    expect(poolerSetting('host=/var/run/postgresql dbname=shop')).toEqual({
      connectionString: 'host=/var/run/postgresql dbname=shop',
      namedStatements: true,
    });
  });
});
