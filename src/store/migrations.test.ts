import { describe, expect, it } from 'vitest';
import { loadMigrations, migrationFiles } from './migrations.js';

describe('migrations', () => {
  // Numbers are handed out ahead to work landing in parallel, so one may land before the
  // numbers below it: a gap is allowed, a repeat or a step out of order is not.
  it('are numbered 0001 upwards, each number once', () => {
    const numbers = migrationFiles().map((f) => Number(f.slice(0, 4)));
    expect(numbers[0]).toBe(1);
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBeGreaterThan(numbers[i - 1]);
  });

  // Existing databases know which steps they ran by these names (kysely_migration): a step
  // renamed would run again on them, and one missing would stop the migrator.
  it('keep the names existing databases recorded, in the order they applied', async () => {
    const names = (await loadMigrations()).map((m) => m.name);
    expect(names).toEqual([
      '0001_initial',
      '0002_sparse_user_index',
      '0003_dashboard',
      '0003_dashboard_touch_days',
      '0004_privacy',
      '0005_compat',
      '0006_audiences',
      '0008_partitions',
      '0008b_privacy_traffic',
      '0009_audience_event_indexes',
      '0010_outbox_jobs',
      '0010_stored_destinations',
      '0010b_audience_member_indexes',
      '0011_definition_versions',
      '0012_revoked_sessions',
      '0013_match_type',
      '0014_outbox_failed_for',
      '0015_fx_rates',
      '0015b_dedup_row',
      '0016_outbox_clear_user',
      '0017_import_ledger',
      '0022_channels',
      '0023_costs',
      '0024_holdouts',
      '0025_impression_views',
      '0026_apple_postbacks',
      '0027_install_fraud',
      '0030_touch_kinds',
      '0031_postback_samples',
      '0032_lift_reads',
      '0033_fraud_verdicts',
      '0036_clustered_ingest_keys',
      '0038_views_per_destination',
      '0039_conversions_by_event_dropped',
      '0040_outbox_lanes',
      '0041_event_merges',
      '0042_touches_by_env_time',
      '0043_touches_human_by_env_time',
    ]);
    expect([...names].sort((a, b) => a.localeCompare(b))).toEqual(names);
  });
});
