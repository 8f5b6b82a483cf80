import type { FastifyRequest } from 'fastify';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import type { UserKeys } from '../../domain/event.js';
import {
  MAX_SEGMENT_EVENT_BYTES,
  mapSegmentMessage,
  type SegmentType,
} from '../../domain/segment-mapping.js';
import type { Arrival, RequestFacts, UnusableArrival } from '../../ingest/ingest.js';
import { HttpError } from '../errors.js';
import { credentialOf } from '../request/key-check.js';
import type { Services } from '../services.js';
import { originAllowed } from './browser-cookie.js';

// What Segment's HTTP Tracking API sends, read into our arrivals:
// https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/

/** Messages one batch may carry (the byte limit usually comes first). */
export const MAX_BATCH_MESSAGES = 1000;

/** Server libraries' paths (`analytics-node`, HTTP API) → the message type they carry. */
export const SERVER_PATHS: Record<string, SegmentType> = {
  track: 'track',
  identify: 'identify',
  page: 'page',
  screen: 'screen',
  alias: 'alias',
  group: 'group',
};
/** `@segment/analytics-next`'s short paths, posted from browsers as `text/plain`. */
export const BROWSER_PATHS: Record<string, SegmentType> = {
  t: 'track',
  i: 'identify',
  p: 'page',
  s: 'screen',
  a: 'alias',
  g: 'group',
};

export type Obj = Record<string, unknown>;

/** The body as a JSON object (browsers post it as text). */
export function parseBody(body: unknown): Obj {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new HttpError(400, 'invalid_json', 'the body is not JSON');
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new HttpError(400, 'invalid_body', 'the body must be a JSON object');
  return parsed as Obj;
}

/**
 * The environment of the write key, as Segment takes it: HTTP Basic with the key as user
 * name and no password (Bearer as on `/v1/events`), or analytics.js's `writeKey` in the body.
 */
export function authorize(s: Services, req: FastifyRequest, body: Obj): EnvironmentConfig {
  const header = credentialOf(req.headers.authorization);
  const key = header || (typeof body.writeKey === 'string' ? body.writeKey : '');
  // The header's credential was hashed by the rate limiter already (credentialDigest).
  const env = key ? s.environmentByWriteKey((header && req.credentialDigest) || key) : undefined;
  if (!env)
    throw new HttpError(
      401,
      'unauthorized',
      'a valid write key is required: HTTP Basic with the write key as user name',
    );
  const origin = req.headers.origin;
  if (!originAllowed(env.allowed_origins, origin))
    throw new HttpError(403, 'origin_not_allowed', `origin ${origin} is not allowed`);
  return env;
}

export function tooLarge(what: string, limit: number): HttpError {
  return new HttpError(400, 'payload_too_large', `${what} is over the ${limit / 1024} KB limit`);
}

/** The size of `v` as JSON; null for a value nested too deep to write out at all. */
export function bytes(v: unknown): number | null {
  try {
    return Buffer.byteLength(JSON.stringify(v) ?? '');
  } catch {
    return null;
  }
}

/**
 * A body of at most this many bytes is a message under MAX_SEGMENT_EVENT_BYTES however it is
 * written out again, so a single call's message needs no measuring (issue 22: writing it out
 * as JSON cost about 2 µs a call). Parsed and written back, JSON text grows at most 21/4 times
 * (a number such as `1e20` comes back as its 21 digits; an invalid UTF-8 byte as U+FFFD, three
 * bytes; whitespace, escapes, duplicate and `__proto__` keys only shrink), and an eighth of the
 * limit leaves room over that. It also nests at most 2,048 deep, half of what JSON.stringify
 * writes out on a shallow stack (4,185 on Node 20), so no body this short is one `bytes` would
 * fail to measure: the same messages are refused, with the same error, as when measured.
 */
export const SURELY_UNDER_LIMIT_BYTES = MAX_SEGMENT_EVENT_BYTES / 8;

/**
 * A single call's message size as checked against MAX_SEGMENT_EVENT_BYTES: the body's length
 * in bytes as received when that alone keeps it under the limit, else the message measured
 * (`bytes`). `received` is NaN when unknown (a chunked body): measured.
 */
export function singleMessageSize(message: unknown, received: number): number | null {
  return received <= SURELY_UNDER_LIMIT_BYTES ? received : bytes(message);
}

/** A batch's messages, each under the batch's `context` and `integrations` unless its own. */
export function batchMessages(body: Obj): unknown[] {
  if (!Array.isArray(body.batch) || body.batch.length === 0)
    throw new HttpError(400, 'invalid_body', 'batch must be a non-empty list', [
      { field: 'batch', message: 'must be a non-empty list of messages' },
    ]);
  if (body.batch.length > MAX_BATCH_MESSAGES)
    throw new HttpError(400, 'invalid_body', `at most ${MAX_BATCH_MESSAGES} messages a batch`, [
      { field: 'batch', message: `must hold at most ${MAX_BATCH_MESSAGES} messages` },
    ]);
  const shared = { context: body.context, integrations: body.integrations };
  return body.batch.map((m: unknown) =>
    typeof m === 'object' && m !== null && !Array.isArray(m)
      ? {
          ...shared,
          ...(m as Obj),
          context: { ...(shared.context as Obj), ...((m as Obj).context as Obj) },
        }
      : m,
  );
}

/**
 * Messages as arrivals: each measured and mapped to the contract. A browser's request fills
 * what a message's own context lacks (the message wins).
 */
export function toArrivals(
  env: EnvironmentConfig,
  messages: readonly unknown[],
  pathType: SegmentType | undefined,
  facts: RequestFacts,
  /** The messages' sizes when the caller measured them already (a single call's one). */
  sizes?: readonly (number | null)[],
): (Arrival | UnusableArrival)[] {
  return messages.map((msg, index) => {
    const size = sizes ? (sizes[index] ?? null) : bytes(msg);
    if (size === null || size > MAX_SEGMENT_EVENT_BYTES) {
      const message =
        size === null ? 'message nests too deep to be read' : 'message is over the 32 KB limit';
      return { index, problems: [{ field: '', message }] };
    }
    const mapped = mapSegmentMessage(msg, pathType);
    if (!mapped.ok) return { index, problems: mapped.errors };
    const user = mapped.event.user as UserKeys;
    const seen = facts.seen
      ? Object.fromEntries(
          Object.entries(facts.seen).filter(([k]) => user[k as keyof UserKeys] === undefined),
        )
      : undefined;
    return {
      index,
      env,
      event: mapped.event,
      facts: seen ? { ...facts, seen } : facts,
      fieldNames: mapped.sources,
      choices: mapped.consentChoices,
    };
  });
}
