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
  return (envId, destId, endpoint, macros) => {
    const key = `${envId}\n${destId}`;
    const tally = m.destinationTally.get(key);
    if (tally) tally.n++;
    else m.destinationTally.set(key, { env_id: envId, dest_id: destId, n: 1 });
    if (macros.length === 0) return;
    m.macroHits.inc({ env_id: envId, dest_id: destId });
    for (const param of macros)
      m.unexpandedMacros.inc({ env_id: envId, dest_id: destId, endpoint, param });
  };
}
