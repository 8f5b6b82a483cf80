import type { AppConfig, AppEntry, AppPlatform } from '../domain/config-types.js';

/**
 * The configured app (`apps`) with this store id on this platform, or, for iOS, this bundle
 * id; undefined when the config names no such app.
 */
export function findApp(
  config: Pick<AppConfig, 'apps'>,
  platform: AppPlatform,
  id: string | number | null | undefined,
): AppEntry | undefined {
  if (id === null || id === undefined || id === '') return undefined;
  const key = String(id);
  return config.apps.find(
    (a) => a.platform === platform && (a.app_id === key || a.bundle_id === key),
  );
}
