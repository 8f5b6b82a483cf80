import type { DestinationConfig } from '../../config/config-types.js';
import type { DestinationAdapter } from '../destination.js';
import { webhookDestination } from './webhook.js';

const ADAPTERS: Record<DestinationConfig['type'], DestinationAdapter> = {
  webhook: webhookDestination,
};

/** The adapter of a destination type. */
export function adapterFor(type: DestinationConfig['type']): DestinationAdapter {
  return ADAPTERS[type];
}
