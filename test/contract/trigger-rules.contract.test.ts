import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TriggerRule } from '../../src/domain/trigger-rules.js';
import type { Store } from '../../src/store/store.js';
import { postgresAvailable, STORE_KINDS } from '../helpers/stores.js';

const hasPostgres = await postgresAvailable();

const purchase: TriggerRule = {
  id: 'thanks',
  event_name: 'Purchase',
  trigger: { type: 'url', pattern: '/thank-you*' },
  value_path: 'ecommerce.value',
  currency: 'EUR',
};
const lead: TriggerRule = {
  id: 'signup',
  event_name: 'Lead',
  trigger: { type: 'click', selector: '#signup' },
};

for (const [kind, open] of Object.entries(STORE_KINDS)) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`Trigger rules store on ${kind}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ store, dispose } = await open());
    });
    afterAll(async () => dispose?.());

    it('TR01 an environment without rules answers null', async () => {
      expect(await store.getTriggerRules('env-none')).toBeNull();
    });

    it('TR02 a rule set is kept per environment and replaced whole', async () => {
      await store.putTriggerRules('env-a', [purchase, lead], 1000);
      await store.putTriggerRules('env-b', [lead], 2000);
      expect(await store.getTriggerRules('env-a')).toEqual({
        rules: [purchase, lead],
        updated_at_ms: 1000,
      });
      await store.putTriggerRules('env-a', [lead], 3000);
      expect(await store.getTriggerRules('env-a')).toEqual({ rules: [lead], updated_at_ms: 3000 });
      expect(await store.getTriggerRules('env-b')).toEqual({ rules: [lead], updated_at_ms: 2000 });
    });
  });
}
