import type { AppConfig } from '../domain/config-types.js';
import { openPostgresStore } from './postgres/open-postgres.js';
import { openSqliteStore } from './sqlite/open-sqlite.js';
import type { Store } from './store.js';

/** The store the config names: PostgreSQL when `database_url` is set, else embedded SQLite. */
export function openStore(config: AppConfig): Store {
  return config.database_url
    ? openPostgresStore(config.database_url)
    : openSqliteStore(config.data_dir);
}
