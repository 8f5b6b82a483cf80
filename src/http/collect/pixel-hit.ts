import { findDestination } from '../../config/find-destination.js';
import { isUnexpandedMacro, macroWarning } from '../../domain/ad-macros.js';
import type { EnvironmentConfig } from '../../domain/config-types.js';
import { adsPermitted } from '../../domain/consent.js';
import { DEVICE_ID_KEYS } from '../../domain/device-id.js';
import type { Touch, TouchKind, Traffic } from '../../domain/event.js';
import { requestIp } from '../../domain/ip-address.js';
import type { TalliedChild } from '../metrics.js';
import { deniedByRequest, requestConsent } from '../request/consent.js';
import { deviceTouchId } from '../request/device-touch.js';
import { type BrowserRequest, readBrowserId, requestCookie } from '../request/identity.js';
import { param, type Query, tooLong } from '../request/query.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { destinationHitCounter } from './macro-counts.js';

/** A pixel's parameters as kept: values that are unexpanded ad-server macros are dropped. */
export interface PixelParams {
  /** The parameter's value (as `param` reads it), or undefined when absent or a macro. */
  get(key: string): string | undefined;
  /** The parameters that held a macro, in the order of `keys`. */
  readonly macros: readonly string[];
}

const NO_MACROS: readonly string[] = Object.freeze([]);

/**
 * The values read, by position in `keys`: readParams runs on every pixel hit, and a record
 * keyed by name plus a closure per hit cost more than a lookup in a list of ten names.
 */
class KeptParams implements PixelParams {
  constructor(
    private readonly keys: readonly string[],
    private readonly values: (string | undefined)[],
    readonly macros: readonly string[],
  ) {}

  get(key: string): string | undefined {
    const i = this.keys.indexOf(key);
    return i < 0 ? undefined : this.values[i];
  }
}

/**
 * Reads `keys` once, dropping every value that is an unexpanded ad-server macro
 * (`imp_id={imp_id}`): such a value is the same on every hit, so kept as an id it would join
 * unrelated people. The caller warns `unexpanded_macro:<key>` for each of `macros`.
 */
export function readParams(q: Query, keys: readonly string[]): PixelParams {
  const values = new Array<string | undefined>(keys.length);
  let macros: string[] | null = null;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const v = param(q, key);
    if (v === undefined || !isUnexpandedMacro(v)) values[i] = v;
    else if (macros) macros.push(key);
    else macros = [key];
  }
  return new KeptParams(keys, values, macros ?? NO_MACROS);
}

/** Fields of a touch an ad server fills in; device ids are read (and checked) for the warning. */
export const TOUCH_PARAMS = [
  'campaign_id',
  'creative_id',
  'placement_id',
  'user_id',
  ...DEVICE_ID_KEYS,
] as const;

/** `X-Pixeltrail-Warnings` entries for the macros a hit carried. */
export function macroWarnings(p: PixelParams): string[] {
  return p.macros.map(macroWarning);
}

/** The browser's id, and the `Set-Cookie` value when a new one was given. */
export interface BrowserId {
  id: string | null;
  cookie?: string;
}

/**
 * Gives the browser its id cookie when it has none and may be given one: only people who
 * consented get a cookie; bots and prefetches neither get nor use one. A person whose hit
 * itself denies consent (TCF without purpose 1, an opt-out, `Sec-GPC`) has the `ptid` they
 * sent expired, as `/e` does when consent is withdrawn: the cookie is HttpOnly, so the page
 * cannot remove it.
 */
export function browserId(
  s: Services,
  env: EnvironmentConfig,
  req: BrowserRequest,
  allowed: boolean,
  traffic: Traffic,
  q: Query,
): BrowserId {
  if (traffic !== 'human') return { id: null };
  const existing = readBrowserId(req);
  if (!allowed) {
    return existing && deniedByRequest(req, env, q)
      ? { id: null, cookie: requestCookie(req, '', env, 0) }
      : { id: null };
  }
  if (existing) return { id: existing };
  const id = s.newBrowserId();
  return { id, cookie: requestCookie(req, id, env) };
}

/** The touch a pixel hit or click records; `p` has read TOUCH_PARAMS. */
export function touchFrom(
  env: EnvironmentConfig,
  kind: TouchKind,
  touchId: string,
  q: Query,
  p: PixelParams,
  req: BrowserRequest,
  anon: string | null,
  nowS: number,
  traffic: Traffic,
): Touch {
  const touch: Touch = {
    env_id: env.id,
    kind,
    touch_id: touchId,
    dest_id: param(q, 'dest_id') ?? null,
    campaign_id: p.get('campaign_id') ?? null,
    creative_id: p.get('creative_id') ?? null,
    placement_id: p.get('placement_id') ?? null,
    time: nowS,
    anonymous_id: deviceTouchId(q) ?? anon,
    user_id: p.get('user_id') ?? null,
    ip: requestIp(req.ip),
    user_agent: req.headers['user-agent'] ?? null,
  };
  if (traffic !== 'human') touch.traffic = traffic;
  return touch;
}

/** `missing_<key>`, or `<key>_too_long` when it was sent but is over MAX_PARAM_CHARS. */
function absent(q: Query, key: string): string {
  return tooLong(q, key) ? `${key}_too_long` : `missing_${key}`;
}

/** Why a pixel hit cannot be recorded, or null when it can. */
export function pixelProblem(
  env: EnvironmentConfig | undefined,
  q: Query,
  idParam: string,
): string | null {
  if (!param(q, 'env_id')) return absent(q, 'env_id');
  if (!env) return 'unknown_env';
  const dest = param(q, 'dest_id');
  if (idParam === 'imp_id' && !dest) return absent(q, 'dest_id');
  if (dest && !findDestination(env, dest)) return 'unknown_dest';
  if (!param(q, idParam)) return absent(q, idParam);
  return null;
}

/**
 * HEAD asks what a GET would answer without making one: link checkers, email scanners and
 * `curl -I` send it, never a browser loading an image or following a link. Fastify runs the
 * GET handler for it; the handlers answer from here instead, recording nothing and setting no
 * cookie, and count it so the hits are accounted for.
 */
export function headOnly(s: Services, endpoint: string, method: string): boolean {
  if (method !== 'HEAD') return false;
  s.metrics.hit(endpoint);
  s.metrics.invalidHits.inc({ endpoint, reason: 'head' });
  return true;
}

/** What an impression pixel answers besides its GIF. */
export interface PixelAnswer {
  /** Problems and flags, for the `X-Pixeltrail-Warnings` header; empty for a clean hit. */
  warnings: string[];
  /** A `ptid` cookie to set: a new one, or an expired one when consent was withdrawn. */
  cookie?: string;
}

const NO_WARNINGS: string[] = [];
/** What `/i` reads of its query, each checked for macros. */
export const IMPRESSION_PARAMS = ['imp_id', ...TOUCH_PARAMS];

/**
 * The `/i` impression pixel (DESIGN §5), whatever HTTP stack carries it: Fastify's route and
 * the node:http fast path both answer with this. Queues the touch (answered before its write)
 * and counts the hit.
 */
export function impressionPixel(s: Services): (q: Query, req: BrowserRequest) => PixelAnswer {
  // Tallied as plain numbers: a labelled counter hashes its labels on every inc.
  const hits = s.metrics.tallied(s.metrics.hits, { endpoint: 'i' });
  // The counter of each reason made on first use (the reasons are a fixed few).
  const invalidBy = new Map<string, TalliedChild>();
  const invalid = (reason: string) => {
    let c = invalidBy.get(reason);
    if (!c) {
      c = s.metrics.tallied(s.metrics.invalidHits, { endpoint: 'i', reason });
      invalidBy.set(reason, c);
    }
    c.inc();
  };
  const countHit = destinationHitCounter(s.metrics);
  return (q, req) => {
    hits.inc();
    const env = s.environment(param(q, 'env_id') ?? '');
    const problem = pixelProblem(env, q, 'imp_id');
    if (problem || !env) {
      invalid(problem ?? 'unknown_env');
      return { warnings: [problem ?? 'unknown_env'] };
    }
    const p = readParams(q, IMPRESSION_PARAMS);
    countHit(env.id, param(q, 'dest_id') ?? '', 'i', p.macros);
    const warnings = p.macros.length === 0 ? NO_WARNINGS : macroWarnings(p);
    const traffic = classifyTraffic(req);
    const allowed = adsPermitted(requestConsent(req, env, undefined, q));
    const anon = browserId(s, env, req, allowed, traffic, q);
    // Counted in aggregate, never kept for attribution.
    if (!allowed) {
      invalid('opted_out');
      return { warnings: [...warnings, 'opted_out'], cookie: anon.cookie };
    }
    const nowS = Math.floor(s.nowMs() / 1000);
    // An imp_id that is a macro names no impression: the view is kept under an id of ours (as
    // `/c` does for a link without click_id), so it still counts by cookie, user id or IP.
    const impId = p.get('imp_id') ?? s.newId('imp_');
    s.pipeline.recordTouch(touchFrom(env, 'impression', impId, q, p, req, anon.id, nowS, traffic));
    if (traffic !== 'human') invalid(traffic);
    return {
      warnings: traffic === 'human' ? warnings : [...warnings, traffic],
      cookie: anon.cookie,
    };
  };
}
