import type { DestinationConfig, EnvironmentConfig } from '../domain/config-types.js';

/** The destination `destId` of an environment; undefined when either is unknown. */
export function findDestination(
  env: Pick<EnvironmentConfig, 'destinations'> | undefined,
  destId: string | null | undefined,
): DestinationConfig | undefined {
  if (!env || !destId) return undefined;
  return env.destinations.find((d) => d.id === destId);
}
