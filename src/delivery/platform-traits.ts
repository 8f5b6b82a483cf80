import type { PlatformTraits } from '../ingest/late-copy.js';
import { adapterFor } from './destinations/registry.js';

/** What ingest needs to know of each platform, read from its adapter. */
export const platformTraits: PlatformTraits = {
  updateKeys(dest, { conversion, event }) {
    const keys = adapterFor(dest.type)?.updateKeys;
    return keys ? keys({ outbox_id: 0, conversion, event }) : null;
  },
  testChannel(dest, testCode) {
    return !!adapterFor(dest.type)?.testChannel?.(dest.settings, testCode);
  },
  clearUser(dest) {
    return adapterFor(dest.type)?.clearUser ?? [];
  },
};
