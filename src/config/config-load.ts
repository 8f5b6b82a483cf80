import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { AppConfig } from '../domain/config-types.js';
import { type ConfigOverrides, parseConfig } from './config-parse.js';

/** A config that cannot be used; `message` lists every bad field. */
export class ConfigError extends Error {}

/** The process environment variables pixeltrail reads; nothing else reads `process.env`. */
export interface ProcessEnv {
  PORT?: string;
  HOST?: string;
  PIXELTRAIL_CONFIG?: string;
  PIXELTRAIL_DATA?: string;
  PIXELTRAIL_PUBLIC_URL?: string;
  LOG_LEVEL?: string;
  DATABASE_URL?: string;
  /** Encrypts the secrets of destinations saved through the admin API (see secret-box.ts). */
  PIXELTRAIL_SECRETS_KEY?: string;
  /** Keys being rotated out, comma-separated (see `secrets_key_previous`). */
  PIXELTRAIL_SECRETS_KEY_PREVIOUS?: string;
  /** Any other variable may hold a destination secret named as `env:NAME`. */
  [name: string]: string | undefined;
}

function overridesFrom(env: ProcessEnv): ConfigOverrides {
  const port = env.PORT ? Number(env.PORT) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new ConfigError(`PORT must be a TCP port number, got "${env.PORT}"`);
  }
  return {
    port,
    host: env.HOST,
    data_dir: env.PIXELTRAIL_DATA,
    public_url: env.PIXELTRAIL_PUBLIC_URL,
    log_level: env.LOG_LEVEL,
    database_url: env.DATABASE_URL || undefined,
    secrets_key: env.PIXELTRAIL_SECRETS_KEY || undefined,
    secrets_key_previous: env.PIXELTRAIL_SECRETS_KEY_PREVIOUS
      ? env.PIXELTRAIL_SECRETS_KEY_PREVIOUS.split(',').map((k) => k.trim())
      : undefined,
    secrets: env as Record<string, string | undefined>,
  };
}

/**
 * The demo environment made when no config file is given. Its keys are generated once and
 * kept in the data folder, so snippets pasted into a page keep working across restarts.
 */
function demoConfig(dataDir: string, port: number): unknown {
  mkdirSync(dataDir, { recursive: true });
  const keysPath = path.join(dataDir, 'demo-keys.json');
  if (!existsSync(keysPath)) {
    const key = (p: string) => `${p}_${randomBytes(12).toString('hex')}`;
    writeFileSync(
      keysPath,
      JSON.stringify(
        { admin_token: key('adm'), write_key: key('wk'), secret: key('whsec') },
        null,
        2,
      ),
      { mode: 0o600 },
    );
  }
  const keys = JSON.parse(readFileSync(keysPath, 'utf8')) as Record<string, string>;
  return {
    admin_token: keys.admin_token,
    environments: [
      {
        id: 'env_demo',
        name: 'Demo shop',
        write_key: keys.write_key,
        allowed_origins: ['*'],
        click_url_hosts: ['localhost', '127.0.0.1', 'shop.example'],
        destinations: [
          {
            id: 'dsp1',
            type: 'webhook',
            // The demo server receives its own deliveries so the loop is visible end to end.
            url: `http://127.0.0.1:${port}/demo/webhook`,
            secret: keys.secret,
            events: ['Purchase', 'Lead'],
          },
        ],
      },
    ],
  };
}

/** Reads and validates the configuration once, from the file and the process environment. */
export function loadConfig(env: ProcessEnv): AppConfig {
  const overrides = overridesFrom(env);
  let raw: unknown;
  const demo = !env.PIXELTRAIL_CONFIG;
  if (env.PIXELTRAIL_CONFIG) {
    let text: string;
    try {
      text = readFileSync(env.PIXELTRAIL_CONFIG, 'utf8');
    } catch (e) {
      throw new ConfigError(
        `cannot read PIXELTRAIL_CONFIG ${env.PIXELTRAIL_CONFIG}: ${(e as Error).message}`,
      );
    }
    try {
      raw = YAML.parse(text);
    } catch (e) {
      throw new ConfigError(
        `${env.PIXELTRAIL_CONFIG} is not valid YAML or JSON: ${(e as Error).message}`,
      );
    }
  } else {
    raw = demoConfig(overrides.data_dir ?? './data', overrides.port ?? 8080);
  }
  const { config, errors } = parseConfig(raw, overrides, demo);
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.field || '(root)'}: ${e.message}`).join('\n');
    throw new ConfigError(`invalid configuration:\n${lines}`);
  }
  return config;
}
