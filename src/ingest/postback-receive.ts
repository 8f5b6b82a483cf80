import { findApp } from '../config/find-app.js';
import { checkAakPostback } from '../domain/adattributionkit.js';
import {
  bodyDigest,
  type CheckedPostback,
  type PostbackFramework,
  unverified,
} from '../domain/apple-postback.js';
import type { AppConfig } from '../domain/config-types.js';
import { checkSkanPostback } from '../domain/skadnetwork.js';
import type { PostbackOutcome, Store } from '../store/store.js';

/**
 * Apple's postbacks are the second way installs arrive (issue 25), beside events: not a
 * person's event (no identity, no dedup key, nothing to attribute; Apple attributed it), so
 * they do not go through ingest(), but through this one step every postback route calls.
 * It reads the body, checks Apple's signature, finds the advertised app's environment in
 * `apps`, and stores the postback once, verified or kept apart with the reason.
 */

/** Apple's postbacks are under 2 KB; a bigger body is not one, and is not kept. */
export const MAX_POSTBACK_BYTES = 16 * 1024;
/** An unverified body is kept cut to this many characters: enough for any of Apple's. */
const MAX_UNVERIFIED_BODY_CHARS = 2048;

export interface PostbackReceiveDeps {
  store: Pick<Store, 'recordPostback'>;
  /** The config as it stands (apps, trusted keys). */
  config: () => Pick<AppConfig, 'apps' | 'apple_postbacks'>;
  nowMs: () => number;
}

/**
 * What became of a postback, the label metrics count it under: `verified`, `duplicate`,
 * `unclaimed` (verified, but no environment lists its app), or why it is not counted
 * (`conflicting_replay`, `bad_signature`, `malformed`…), whether it was kept or not.
 */
export interface PostbackReceipt {
  result: string;
  outcome: PostbackOutcome;
}

function parse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/**
 * Receives one postback body. Never throws for what the body holds; a store failure
 * propagates, so the route can ask the device to send it again.
 */
export async function receivePostback(
  deps: PostbackReceiveDeps,
  framework: PostbackFramework,
  body: string,
): Promise<PostbackReceipt> {
  const config = deps.config();
  const trust = config.apple_postbacks;
  const parsed = parse(body);
  const checked: CheckedPostback =
    parsed === undefined
      ? { postback: null, verification: unverified('malformed', 'the body is not JSON') }
      : framework === 'skadnetwork'
        ? checkSkanPostback(parsed, trust)
        : await checkAakPostback(parsed, trust);
  const { postback, verification } = checked;
  const app = postback ? findApp(config, 'ios', postback.app_id) : undefined;
  const outcome = await deps.store.recordPostback({
    env_id: app?.env_id ?? '',
    framework,
    postback,
    verification,
    body,
    body_sha256: parsed === undefined ? bodyDigest(body) : bodyDigest(parsed),
    received_at_ms: deps.nowMs(),
    sample: { per_hour: trust.unverified_kept_per_hour, body_chars: MAX_UNVERIFIED_BODY_CHARS },
  });
  const result =
    outcome.outcome === 'duplicate'
      ? 'duplicate'
      : outcome.outcome === 'not_kept'
        ? outcome.reason
        : !verification.verified
          ? verification.reason
          : outcome.outcome === 'conflict'
            ? 'conflicting_replay'
            : app
              ? 'verified'
              : 'unclaimed';
  return { result, outcome };
}
