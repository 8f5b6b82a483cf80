import type { DestinationAdapter } from '../destination.js';
import { webhookDestination } from './webhook.js';

/** Every destination type by name. */
export const ADAPTERS: Record<string, DestinationAdapter<any>> = {
  webhook: webhookDestination,
};

/** The adapter of a destination type, or undefined for an unknown type. */
export function adapterFor(type: string): DestinationAdapter<any> | undefined {
  return ADAPTERS[type];
}
