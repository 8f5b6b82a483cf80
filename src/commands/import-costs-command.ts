import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config/config-load.js';
import type { AppConfig } from '../domain/config-types.js';
import { type CostRowError, costsFromCsv } from '../domain/costs.js';
import type { Store } from '../store/store.js';

/** The refused rows of a cost import as CSV: line, field, message. */
export function costErrorsCsv(errors: readonly CostRowError[]): string {
  const cell = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return `line,field,message\n${errors
    .map((e) => `${[String(e.line ?? e.index + 2), e.field, e.message].map(cell).join(',')}\n`)
    .join('')}`;
}

/**
 * `pixeltrail import costs FILE.csv [--env ID]`: daily costs per campaign, as `POST /api/costs`
 * takes them (`date,campaign_id,cost,currency` and optional `channel,source,medium,
 * impressions,clicks`). Good rows are saved, replacing the same campaign, channel and days;
 * bad ones go to FILE.errors.csv and set exit code 1.
 */
export async function importCostsCommand(
  store: Store,
  config: AppConfig,
  file: string | undefined,
  values: { env?: string },
): Promise<void> {
  if (!file) throw new ConfigError('usage: pixeltrail import costs FILE.csv [--env ID]');
  const env = config.environments.find((e) => e.id === (values.env ?? config.environments[0].id));
  if (!env) throw new ConfigError(`no environment ${values.env}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`cannot read ${file}`);
  }
  const parsed = costsFromCsv(text);
  if ('unusable' in parsed)
    throw new ConfigError(
      `${file} cannot be imported: ${parsed.unusable.map((e) => `${e.field} ${e.message}`).join('; ')}`,
    );
  const saved = await store.putCosts(env.id, parsed.rows, Date.now());
  const refused = new Set(parsed.errors.map((e) => e.line)).size;
  process.stdout.write(
    `imported ${file} into ${env.id}: ${saved} daily costs saved, ${refused} lines refused\n`,
  );
  if (parsed.errors.length > 0) {
    const out = `${file}.errors.csv`;
    writeFileSync(out, costErrorsCsv(parsed.errors));
    process.stdout.write(`the refused lines and why: ${out}\n`);
    process.exitCode = 1;
  }
}
