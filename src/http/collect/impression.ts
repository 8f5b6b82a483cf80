import { adsPermitted } from '../../domain/consent.js';
import { requestConsent } from '../request/consent.js';
import type { BrowserRequest } from '../request/identity.js';
import { param, type Query } from '../request/query.js';
import { classifyTraffic } from '../request/traffic.js';
import type { Services } from '../services.js';
import { destinationHitCounter } from './macro-counts.js';
import {
  browserId,
  macroWarnings,
  pixelProblem,
  readParams,
  TOUCH_PARAMS,
  touchFrom,
} from './pixel-hit.js';

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
  // Bound once: resolving a labelled counter per hit showed in profiles.
  const hits = s.metrics.hits.labels({ endpoint: 'i' });
  const invalid = (reason: string) => s.metrics.invalidHits.inc({ endpoint: 'i', reason });
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
