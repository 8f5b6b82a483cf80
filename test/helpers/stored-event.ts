import { protectIp } from '../../src/domain/ip-privacy.js';
import type { Server } from '../../src/server.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import type { Store, StoredEvent } from '../../src/store/store.js';
import { waitFor } from './pixeltrail.js';

/** The stored event behind a dedup key, once the pipeline has committed it. */
export async function storedEvent(
  server: Server,
  eventName: string,
  eventId: string,
  envId = 'env_t',
): Promise<StoredEvent> {
  const found = await waitFor(async () => {
    await server.services.pipeline.flush();
    return storedByKey(server.services.store, envId, eventName, eventId);
  });
  return found as StoredEvent;
}

/**
 * The dedup key of an event id: read directly, as no caller of the store needs it (ingest
 * claims keys with the event, in claimAndInsertEvent).
 */
export async function dedupKey(
  store: Store,
  envId: string,
  eventName: string,
  eventId: string,
): Promise<{ event_pk: string; first_seen: number } | null> {
  const row = await (store as KyselyStore).db
    .selectFrom('dedup_keys')
    .select(['event_pk', 'first_seen'])
    .where('env_id', '=', envId)
    .where('event_name', '=', eventName)
    .where('event_id', '=', eventId)
    .executeTakeFirst();
  return row ? { event_pk: row.event_pk, first_seen: Number(row.first_seen) } : null;
}

/** The stored event that holds an event id's dedup key, or null. */
export async function storedByKey(
  store: Store,
  envId: string,
  eventName: string,
  eventId: string,
): Promise<StoredEvent | null> {
  const key = await dedupKey(store, envId, eventName, eventId);
  return key ? store.ingest((tx) => tx.getEvent(key.event_pk)) : null;
}

/** How an IP address is written for an environment (ip_storage: hmac by default, issue 6). */
export function storedIp(server: Server, ip: string, envId = 'env_t'): string {
  const env = server.services.environment(envId);
  if (!env) throw new Error(`no environment ${envId}`);
  return protectIp(ip, env.ip_storage, env.ip_secret);
}
