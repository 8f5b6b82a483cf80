import type { Server } from '../../src/server.js';
import { waitFor } from './pixeltrail.js';

/**
 * Proves that no further delivery request comes, without sleeping: waits until no outbox
 * row is pending (each was delivered, failed or dead-lettered for good; a row due for a
 * retry, however late, keeps this waiting and the test fails), then runs a delivery round,
 * which must claim nothing. After it, a receiver's request count is final.
 */
export async function deliveriesSettled(server: Server): Promise<void> {
  await waitFor(async () => (await server.services.store.counts()).outbox_pending === 0);
  const claimed = await server.services.worker.drainOnce();
  if (claimed > 0) throw new Error(`a delivery round claimed ${claimed} rows: not settled`);
}
