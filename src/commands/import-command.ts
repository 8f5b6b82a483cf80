import { createReadStream, statSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config/config-load.js';
import { eventAgeLimitS } from '../delivery/event-age.js';
import type { AppConfig } from '../domain/config-types.js';
import { decideConsent } from '../domain/consent.js';
import { ACTION_SOURCES, type ActionSource } from '../domain/event.js';
import {
  errorReportCsv,
  importConversions,
  storeImportLedger,
} from '../ingest/conversion-import.js';
import { CopySources } from '../ingest/copy-sources.js';
import { processBatch } from '../ingest/ingest-pipeline.js';
import { progressBar } from '../reports/recompute-paths.js';
import { newId } from '../server.js';
import type { Store } from '../store/store.js';

/** What `pixeltrail import conversions FILE.csv` reads from its options. */
export interface ImportCommandOptions {
  env?: string;
  event?: string;
  'action-source'?: string;
}

/**
 * `pixeltrail import conversions FILE.csv`: the file's rows as offline conversions, through
 * the same validation and ingest as `POST /api/imports`, with a progress bar on stderr (by
 * bytes read). Bad rows go to FILE.errors.csv (line, field, message) and set exit code 1.
 */
export async function importCommand(
  store: Store,
  config: AppConfig,
  file: string | undefined,
  values: ImportCommandOptions,
): Promise<void> {
  if (!file)
    throw new ConfigError(
      'usage: pixeltrail import conversions FILE.csv [--env ID] [--event NAME] [--action-source S]',
    );
  const env = config.environments.find((e) => e.id === (values.env ?? config.environments[0].id));
  if (!env) throw new ConfigError(`no environment ${values.env}`);
  const source = values['action-source'] ?? 'physical_store';
  if (!(ACTION_SOURCES as readonly string[]).includes(source))
    throw new ConfigError(`--action-source must be one of ${ACTION_SOURCES.join(', ')}`);
  let total: number;
  try {
    total = statSync(file).size;
  } catch {
    throw new ConfigError(`cannot read ${file}`);
  }
  const bar = progressBar(process.stderr, 'import');
  let read = 0;
  async function* bytes() {
    for await (const piece of createReadStream(file as string)) {
      read += (piece as Buffer).length;
      yield piece as Buffer;
    }
  }
  const nowMs = Date.now();
  const report = await importConversions(bytes(), {
    envId: env.id,
    eventName: values.event ?? 'Purchase',
    actionSource: source as ActionSource,
    validation: {
      nowMs,
      newId: () => newId('gen_'),
      maxEventAgeS: (name, src) => eventAgeLimitS(env, name, src),
    },
    consent: (stated) =>
      decideConsent({
        stated,
        consentDefault: env.consent_default,
        gpc: false,
        tcfVendorId: env.tcf_vendor_id,
      }),
    record: (events) =>
      store.ingest((tx) =>
        processBatch(tx, events, {
          environment: (id) => (id === env.id ? env : undefined),
          nowMs: Date.now(),
          newId,
          // Offline conversions have no browser copy to wait for: `auto` sends them at once.
          copies: new CopySources(),
        }),
      ),
    progress: () => bar(read, total),
    ledger: storeImportLedger(store, env.id, Date.now),
  });
  bar(total, total);
  process.stdout.write(
    `imported ${file} into ${env.id}: ${report.rows} rows, ${report.accepted} new, ` +
      `${report.duplicates} already there, ${new Set(report.errors.map((e) => e.line)).size} refused\n`,
  );
  if (report.errors.length > 0) {
    const out = `${file}.errors.csv`;
    writeFileSync(out, errorReportCsv(report.errors));
    process.stdout.write(`the refused rows and why: ${out}\n`);
    process.exitCode = 1;
  }
}
