import type { AppConfig, DestinationConfig, EnvironmentConfig } from '../domain/config-types.js';
import { findDestination } from './find-destination.js';

/**
 * Freezes `value` and everything reachable from it, so that a config read once is never
 * changed in place: a change (a destination saved through the admin API) makes a new
 * snapshot instead (delivery/catalog.ts). Frozen in development and tests, where
 * a write to a snapshot throws at the line that tried it; in production (NODE_ENV=production)
 * left as it is, so that a missed write path cannot turn into a failed request.
 */
export function freezeConfig<T extends object>(value: T): T {
  if (process.env.NODE_ENV === 'production') return value;
  return deepFreeze(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
  return value;
}

/**
 * One config as it stands: the file's settings with every environment's destinations as
 * merged by the catalog. Readers ask for the current one when they need it
 * (`services.config`, `catalog.current()`) rather than keep one: the next change replaces it.
 */
export class ConfigSnapshot {
  private readonly byId: Map<string, EnvironmentConfig>;

  constructor(readonly config: AppConfig) {
    this.byId = new Map(config.environments.map((e) => [e.id, e]));
  }

  /** `base` (frozen as it is) with these environments' destination lists put in. */
  static of(base: AppConfig, destinations?: ReadonlyMap<string, DestinationConfig[]>) {
    const config = destinations
      ? {
          ...base,
          environments: base.environments.map((e) => ({
            ...e,
            destinations: destinations.get(e.id) ?? e.destinations,
          })),
        }
      : base;
    return new ConfigSnapshot(freezeConfig(config));
  }

  environment(env_id: string): EnvironmentConfig | undefined {
    return this.byId.get(env_id);
  }

  destination(env_id: string, dest_id: string): DestinationConfig | undefined {
    return findDestination(this.byId.get(env_id), dest_id);
  }
}
