import type { DestinationConfig, EnvironmentConfig } from '../domain/config-types.js';

/** The destination `destId` of an environment; undefined when either is unknown. */
export function findDestination(
  env: Pick<EnvironmentConfig, 'destinations'> | undefined,
  destId: string | null | undefined,
): DestinationConfig | undefined {
  if (!env || !destId) return undefined;
  // A loop, not find() with a closure: every pixel hit asks.
  for (const d of env.destinations) if (d.id === destId) return d;
  return undefined;
}
