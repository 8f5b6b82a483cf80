import type { Metrics } from '../metrics.js';

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
  // Each pair's tally found by two lookups, without a key string built on every hit.
  const byEnv = new Map<string, Map<string, { n: number }>>();
  return (envId, destId, endpoint, macros) => {
    let byDest = byEnv.get(envId);
    if (!byDest) {
      byDest = new Map();
      byEnv.set(envId, byDest);
    }
    let tally = byDest.get(destId);
    if (!tally) {
      const key = `${envId}\n${destId}`;
      const kept = m.destinationTally.get(key) ?? { env_id: envId, dest_id: destId, n: 0 };
      m.destinationTally.set(key, kept);
      byDest.set(destId, kept);
      tally = kept;
    }
    tally.n++;
    if (macros.length === 0) return;
    m.macroHits.inc({ env_id: envId, dest_id: destId });
    for (const param of macros)
      m.unexpandedMacros.inc({ env_id: envId, dest_id: destId, endpoint, param });
  };
}
