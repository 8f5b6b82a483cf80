import type { FastifyServerOptions } from 'fastify';
import { redactText } from '../../domain/redact-text.js';

export { redactText };

/** Header and field paths whose values never reach a log line. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'req.headers["x-forwarded-for"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'res.headers["set-cookie"]',
  '*.authorization',
  '*.access_token',
  '*.api_secret',
  '*.secret',
  '*.token',
  '*.write_key',
  '*.admin_token',
  '*.email',
  '*.phone',
  '*.ip',
  'user.ip',
  'user.email',
  'user.phone',
];

const MAX_DEPTH = 6;

function redactValue(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return redactText(v);
  if (depth > MAX_DEPTH || v === null || typeof v !== 'object') return v;
  if (v instanceof Error) {
    return { type: v.name, message: redactText(v.message), stack: redactText(v.stack ?? '') };
  }
  if (Array.isArray(v)) return v.map((x) => redactValue(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = redactValue(x, depth + 1);
  return out;
}

/**
 * Logger options: pino's path redaction for known fields, then every string of every log
 * line (message included) scrubbed of emails, phones, IPs and tokens (STYLE rule 15).
 */
export function loggerOptions(
  level: string,
  stream?: NodeJS.WritableStream,
): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    ...(stream ? { stream } : {}),
    redact: { paths: REDACT_PATHS, censor: '****' },
    formatters: {
      log: (obj: Record<string, unknown>) => redactValue(obj, 0) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(
          this,
          args.map((a) => (typeof a === 'string' ? redactText(a) : a)),
        );
      },
    },
    serializers: {
      // The URL's query can carry emails and keys; the path alone says which route failed.
      req: (req: { method?: string; url?: string }) => ({
        method: req.method,
        url: req.url?.split('?')[0],
      }),
    },
  };
}
