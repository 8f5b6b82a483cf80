import type { Server } from '../../src/server.js';
import type { StoredEvent } from '../../src/store/store.js';
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
    return server.services.store.ingest(async (tx) => {
      const key = await tx.findDedup(envId, eventName, eventId);
      return key ? tx.getEvent(key.event_pk) : null;
    });
  });
  return found as StoredEvent;
}
