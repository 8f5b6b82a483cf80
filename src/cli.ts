import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { startCluster } from './cluster-serve.js';
import { importCommand } from './commands/import-command.js';
import { importCostsCommand } from './commands/import-costs-command.js';
import { adminTokenVerdict } from './config/admin-token-check.js';
import { ConfigError, loadConfig } from './config/config-load.js';
import { findDestination } from './config/find-destination.js';
import { DestinationCatalog } from './delivery/catalog.js';
import { destinationSend } from './delivery/guarded-send.js';
import { newLeaseOwner } from './delivery/lease-owner.js';
import { sendTestConversion } from './delivery/test-conversion.js';
import { DeliveryWorker } from './delivery/worker.js';
import type { AppConfig } from './domain/config-types.js';
import { addressAllowance } from './domain/private-address.js';
import { retentionCutoffs } from './domain/retention.js';
import { timeInputMs } from './domain/time-input.js';
import { appLookup } from './ingest/eligibility.js';
import { progressBar, recomputePaths } from './reports/recompute-paths.js';
import { seedCommand } from './seed/seed-command.js';
import { createServer } from './server.js';
import { openStore } from './store/open-store.js';

const USAGE = `usage: pixeltrail <command>
  serve [--workers N]                     run the collector, attribution and delivery (default);
                                          --workers N: N processes on one port (PostgreSQL)
  migrate                                 apply pending database migrations
  replay --env ID --dest ID --from T --to T
                                          re-send the attributed conversions created in [from, to)
                                          (T: ISO time or Unix seconds) to one destination
  purge                                   delete expired touches and dedup keys now
  destinations test DEST_ID [--env ID] [--confirm real]
                                          send one test purchase to the platform's test
                                          channel and print its answer; a platform with
                                          none records a real conversion, so --confirm real
  attribution recompute --from T --to T [--env ID]
                                          rebuild the conversion paths of [from, to) from the
                                          stored touches (after a window or rule change)
  import conversions FILE.csv [--env ID] [--event NAME] [--action-source S]
                                          offline conversions from a CSV (order_id, time, value,
                                          currency, email, phone, click ids, user_id…); bad rows
                                          go to FILE.csv.errors.csv; a second run adds nothing
  import costs FILE.csv [--env ID]        daily cost per campaign (date,campaign_id,cost,currency;
                                          optional channel,source,medium,impressions,clicks);
                                          replaces the same campaign, channel and days
  seed --demo [--env ID] [--touches N] [--conversions N]
                                          fill an environment with 30 days of demo traffic
                                          (default 1,000,000 touches and 100,000 purchases)`;

function banner(config: AppConfig, base: string): string {
  const env = config.environments[0];
  const dest = env.destinations[0]?.id ?? 'dsp1';
  const url = config.public_url;
  const lines = [
    `pixeltrail listening on ${base} (data: ${config.data_dir})`,
    '',
    `Impression pixel (put it in the ad):`,
    `  <img src="${url}/i?env_id=${env.id}&dest_id=${dest}&imp_id=IMP-1&campaign_id=c1" width="1" height="1" alt="">`,
    '',
    'Tag (put it on the shop page):',
    `  <script>window.pixeltrail=window.pixeltrail||function(){(pixeltrail.q=pixeltrail.q||[]).push(arguments)};</script>`,
    `  <script async src="${url}/t.js"></script>`,
    `  <script>pixeltrail('init','${env.id}'); pixeltrail('track','Purchase',{value:49.9,currency:'EUR'},{event_id:'ord-1'});</script>`,
    '',
    'Server API:',
    `  curl -X POST ${url}/v1/events -H 'Authorization: Bearer ${env.write_key}' -H 'Content-Type: application/json' \\`,
    `    -d '{"events":[{"event_name":"Purchase","event_id":"ord-1","user":{"ip":"203.0.113.9","user_agent":"Mozilla/5.0"},"properties":{"value":49.9,"currency":"EUR"}}]}'`,
    '',
    `Admin API: curl -H 'Authorization: Bearer ${config.demo ? config.admin_token : '<admin_token>'}' ${url}/api/conversions`,
    `Dashboard: ${url}/ui/ (log in with the admin token)`,
  ];
  if (config.demo)
    lines.push(`Demo deliveries arrive at ${url}/demo/webhook (GET it to see them).`);
  return lines.join('\n');
}

/** How the CLI's commands send to destinations: as the server does. */
function senderOf(config: AppConfig) {
  return destinationSend(addressAllowance(config.allow_private_destinations));
}

async function serve(config: AppConfig, workers: number): Promise<void> {
  // Before any worker is forked: each would refuse, and be restarted.
  const refuse = adminTokenVerdict(config).refuse;
  if (refuse) throw new ConfigError(refuse);
  if (workers > 1 && startCluster(config, workers)) return;
  const server = await createServer(config, { secrets: process.env });
  const base = await server.listen();
  if (cluster.isPrimary || cluster.worker?.id === 1)
    process.stdout.write(`${banner(config, base)}\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'stopping: flushing writes and finishing deliveries');
    await server.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

function timeMs(text: string | undefined, name: string): number {
  const ms = text === undefined ? null : timeInputMs(text);
  if (ms === null) throw new ConfigError(`--${name} must be an ISO time or Unix seconds`);
  return ms;
}

async function destinationsCommand(
  config: AppConfig,
  args: string[],
  envId?: string,
  confirm?: string,
): Promise<void> {
  if (args[0] !== 'test' || !args[1])
    throw new ConfigError(
      `usage: pixeltrail destinations test DEST_ID [--env ID] [--confirm real]`,
    );
  const env = config.environments.find((e) => e.id === (envId ?? config.environments[0].id));
  if (!env || !findDestination(env, args[1])) {
    throw new ConfigError(`no destination "${args[1]}" in environment ${env?.id ?? envId}`);
  }
  const report = await sendTestConversion(env, args[1], senderOf(config), Date.now(), {
    confirmReal: confirm === 'real',
  });
  if ('needs_confirmation' in report) throw new ConfigError(`${report.message} (--confirm real)`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  const ok = !report.refused && report.reading?.verdicts.every((v) => v.action === 'done');
  if (!ok) process.exitCode = 1;
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      env: { type: 'string' },
      dest: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      demo: { type: 'boolean' },
      touches: { type: 'string' },
      conversions: { type: 'string' },
      workers: { type: 'string' },
      event: { type: 'string' },
      'action-source': { type: 'string' },
      confirm: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0] ?? 'serve';
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const fileConfig = loadConfig(process.env);
  const workers = Number(values.workers ?? 1);
  if (!Number.isInteger(workers) || workers < 1)
    throw new ConfigError('--workers must be a whole number ≥ 1');
  if (command === 'serve') return serve(fileConfig, workers);
  const store = openStore(fileConfig);
  try {
    await store.migrate();
    // Destinations saved through the admin API count for every command, as in serve.
    const catalog = new DestinationCatalog({
      config: fileConfig,
      store,
      secrets: process.env,
      onError: (message) => process.stderr.write(`pixeltrail: ${message}\n`),
    });
    await catalog.reload();
    const config = catalog.current();
    if (command === 'destinations') {
      await destinationsCommand(config, positionals.slice(1), values.env, values.confirm);
    } else if (command === 'migrate') {
      process.stdout.write(
        `migrations applied (${config.database_url ? 'PostgreSQL' : config.data_dir})\n`,
      );
    } else if (command === 'purge') {
      const r = await store.purge(retentionCutoffs(config, Date.now()));
      process.stdout.write(
        `purged ${r.touches} touches, ${r.events} events, ${r.dedup_keys} dedup keys` +
          (r.import_keys > 0 ? `, ${r.import_keys} import ledger keys` : '') +
          (r.partitions_dropped > 0 ? ` (${r.partitions_dropped} day partitions dropped)` : '') +
          (r.audience_batches_emptied > 0
            ? `; emptied ${r.audience_batches_emptied} undelivered audience batches`
            : '') +
          '\n',
      );
    } else if (command === 'import' && positionals[1] === 'conversions') {
      await importCommand(store, config, positionals[2], values);
    } else if (command === 'import' && positionals[1] === 'costs') {
      await importCostsCommand(store, config, positionals[2], values);
    } else if (command === 'seed') {
      await seedCommand(store, config, values);
    } else if (command === 'replay') {
      const envId = values.env ?? config.environments[0].id;
      const env = config.environments.find((e) => e.id === envId);
      if (!findDestination(env, values.dest)) {
        throw new ConfigError(`--dest must name a destination of environment ${envId}`);
      }
      const n = await store.requeueRange(
        envId,
        values.dest as string,
        timeMs(values.from, 'from'),
        timeMs(values.to, 'to'),
        Date.now(),
      );
      process.stdout.write(`queued ${n} conversions for ${envId}/${values.dest}\n`);
      // Send now; leases keep this from doubling up with a running serve's worker.
      const worker = new DeliveryWorker({
        store,
        config: () => config,
        send: senderOf(config),
        nowMs: Date.now,
        random: Math.random,
        owner: newLeaseOwner('replay'),
      });
      let sent = 0;
      for (let round = await worker.drainOnce(); round > 0; round = await worker.drainOnce())
        sent += round;
      const left = (await store.counts(envId)).outbox_pending;
      process.stdout.write(
        `attempted ${sent} deliveries; ${left} still pending (retries continue in serve)\n`,
      );
    } else if (command === 'attribution' && positionals[1] === 'recompute') {
      const env = config.environments.find(
        (e) => e.id === (values.env ?? config.environments[0].id),
      );
      if (!env) throw new ConfigError(`--env must name an environment`);
      const from = Math.floor(timeMs(values.from, 'from') / 1000);
      const to = Math.floor(timeMs(values.to, 'to') / 1000);
      const n = await recomputePaths(
        store,
        env,
        from,
        to,
        Date.now,
        progressBar(process.stderr, 'recompute'),
        appLookup(config.apps),
      );
      process.stdout.write(`recomputed ${n} conversion paths of ${env.id}\n`);
    } else {
      throw new ConfigError(`unknown command "${command}"\n${USAGE}`);
    }
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(
    `pixeltrail: ${e instanceof ConfigError ? e.message : ((e as Error).stack ?? String(e))}\n`,
  );
  process.exit(e instanceof ConfigError ? 2 : 1);
});
