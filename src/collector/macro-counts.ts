import type { Counter } from 'prom-client';
import type { Metrics } from './metrics.js';

/** Counts one hit of a destination, and the unexpanded macros it carried. */
export type DestinationHitCounter = (
  envId: string,
  destId: string,
  endpoint: string,
  macros: readonly string[],
) => void;

/**
 * Counts pixel and click hits per destination (`destId` '' when the hit named none) and those
 * carrying unexpanded ad-server macros, for the health page's share of broken hits. Callers
 * pass only configured environments and destinations, so the label sets stay bounded.
 */
export function destinationHitCounter(m: Metrics): DestinationHitCounter {
  // Bound counters by destination: resolving labels per hit shows in pixel profiles.
  const bound = new Map<string, Counter.Internal>();
  return (envId, destId, endpoint, macros) => {
    const key = `${envId}\n${destId}`;
    let hits = bound.get(key);
    if (!hits) {
      hits = m.destinationHits.labels({ env_id: envId, dest_id: destId });
      bound.set(key, hits);
    }
    hits.inc();
    if (macros.length === 0) return;
    m.macroHits.inc({ env_id: envId, dest_id: destId });
    for (const param of macros)
      m.unexpandedMacros.inc({ env_id: envId, dest_id: destId, endpoint, param });
  };
}
