import { findDestination } from '../config/find-destination.js';
import type { EnvironmentConfig } from '../domain/config-types.js';
import { classifyAttempt } from '../domain/delivery-policy.js';
import { sha256Hex } from '../domain/identity.js';
import {
  type DeliveryItem,
  type HttpResult,
  type HttpSend,
  type Interpretation,
  type OutgoingRequest,
  requestFor,
} from './destinations/adapter.js';
import { adapterFor } from './destinations/registry.js';

/** Where a test conversion went: the platform's test or validation channel, or live. */
export type TestChannel = { kind: 'test'; name: string } | { kind: 'live' };

/** What a test send did: the request (secrets left out), the answer and how it was read. */
export interface TestSendReport {
  dest_id: string;
  type: string;
  channel: TestChannel;
  /** True when the send went live and was accepted: the platform counts a real conversion. */
  real_conversion_recorded: boolean;
  /** What to tell the person who asked, in words. */
  note: string;
  refused: string | null;
  request: { method: string; url: string } | null;
  result: HttpResult | null;
  reading: Interpretation | null;
}

/** How much of a text answer the dashboard's test send shows. */
export const TEST_EXCERPT_CHARS = 300;
const TEXT_TYPE_RE = /^(text\/|application\/([\w.+-]*\+)?(json|xml)\b)/i;

/**
 * A test send's report as the admin API shows it: the status, and of the answer's body only
 * a short excerpt, only when it is text (JSON, XML, plain text). A test send reaches whatever
 * URL the destination names, so the endpoint must not relay whole answers.
 */
export function shortReport(r: TestSendReport): TestSendReport {
  const result = r.result;
  const text = result?.kind !== 'response' || TEXT_TYPE_RE.test(result.contentType ?? '');
  const short = (t: string) =>
    t.length > TEST_EXCERPT_CHARS ? `${t.slice(0, TEST_EXCERPT_CHARS)}…` : t;
  return {
    ...r,
    result:
      result?.kind === 'response'
        ? {
            kind: 'response',
            status: result.status,
            retryAfter: result.retryAfter,
            contentType: result.contentType ?? null,
            bodyExcerpt: TEXT_TYPE_RE.test(result.contentType ?? '')
              ? short(result.bodyExcerpt)
              : '',
          }
        : result,
    reading: r.reading && {
      ...r.reading,
      // An adapter's reading of a body that is not text would only relay its bytes.
      detail: r.reading.detail === null || !text ? null : short(r.reading.detail),
    },
  };
}

/** The platform has no test channel and the caller did not confirm a real conversion. */
export interface NeedsConfirmation {
  needs_confirmation: true;
  dest_id: string;
  type: string;
  message: string;
}

/** A purchase as a real one would arrive: hashed email, click ids, attributed to a view. */
function testItem(env: EnvironmentConfig, destId: string, nowMs: number): DeliveryItem {
  const t = Math.floor(nowMs / 1000);
  const eventId = `pixeltrail-test-${t}`;
  return {
    outbox_id: 0,
    conversion: {
      conversion_id: `cv_test_${t}`,
      dest_id: destId,
      env_id: env.id,
      event_pk: `ev_test_${t}`,
      event_name: 'Purchase',
      event_id: eventId,
      event_time: t,
      value: 1,
      currency: 'USD',
      attribution: {
        type: 'view',
        imp_id: 'IMP-TEST',
        click_id: null,
        campaign_id: 'test',
        creative_id: null,
        placement_id: null,
        touch_time: t - 60,
        match_key: 'cookie',
        match_type: 'deterministic',
        window: '1d',
        model: 'last_touch',
      },
      reason: null,
      created_at_ms: nowMs,
    },
    event: {
      env_id: env.id,
      event_name: 'Purchase',
      event_id: eventId,
      event_time: t,
      source: 'server',
      user: {
        anonymous_id: 'pixeltrail-test',
        email_sha256: sha256Hex('test@example.com'),
        ip: '203.0.113.9',
        user_agent: 'Mozilla/5.0 (pixeltrail destination test)',
      },
      properties: {
        value: 1,
        currency: 'USD',
        content_ids: ['test-sku'],
        url: 'https://shop.example/thanks',
      },
      consent: { ads: true, analytics: true },
      warnings: [],
    },
  };
}

function redact(req: OutgoingRequest): { method: string; url: string } {
  return {
    method: req.method,
    url: req.url.replace(/(access_token|api_secret)=[^&]+/g, '$1=****'),
  };
}

/**
 * Sends one test purchase to a destination, as `pixeltrail destinations test` does, through
 * the platform's test or validation channel (Meta/TikTok test codes, Google Ads validateOnly,
 * GA4's validation server…). Where the platform has none, nothing is sent unless `confirmReal`:
 * then it goes live and the report says a real conversion was recorded.
 */
export async function sendTestConversion(
  env: EnvironmentConfig,
  destId: string,
  send: HttpSend,
  nowMs: number,
  opts: { confirmReal?: boolean } = {},
): Promise<TestSendReport | NeedsConfirmation> {
  const dest = findDestination(env, destId);
  const adapter = dest ? adapterFor(dest.type) : undefined;
  if (!dest || !adapter) throw new Error(`no destination ${destId} in environment ${env.id}`);
  const name = adapter.testChannel?.(dest.settings) ?? null;
  const base = { dest_id: dest.id, type: dest.type };
  if (!name && !opts.confirmReal) {
    return {
      ...base,
      needs_confirmation: true,
      message: `${dest.type} has no test channel: a test conversion would be recorded as a real one. Send it with confirm=real to accept that.`,
    };
  }
  const channel: TestChannel = name ? { kind: 'test', name } : { kind: 'live' };
  const ctx = { dest: name ? { ...dest, test_mode: true } : dest, settings: dest.settings, nowMs };
  const item = testItem(env, dest.id, nowMs);
  const refused = adapter.refuse?.(item, ctx) ?? null;
  if (refused) {
    const note = `not sent: ${refused}`;
    return {
      ...base,
      channel,
      real_conversion_recorded: false,
      note,
      refused,
      request: null,
      result: null,
      reading: null,
    };
  }
  const req = requestFor(dest, adapter.buildRequest([item], ctx));
  const result = await send(req, dest.timeout_ms);
  const reading = adapter.interpret?.(result, [item], nowMs) ?? {
    verdicts: [
      classifyAttempt(
        result.kind === 'network'
          ? result
          : { kind: 'response', status: result.status, retryAfter: result.retryAfter },
        nowMs,
      ),
    ],
    detail: result.kind === 'response' ? result.bodyExcerpt.slice(0, 500) : result.error,
  };
  const accepted = reading.verdicts.every((v) => v.action === 'done');
  const real = channel.kind === 'live' && accepted;
  const note =
    channel.kind === 'test'
      ? `sent to ${channel.name}: no real conversion was recorded`
      : real
        ? `sent live (${dest.type} has no test channel): a real conversion was recorded`
        : `sent live (${dest.type} has no test channel) and not accepted`;
  return {
    ...base,
    channel,
    real_conversion_recorded: real,
    note,
    refused: null,
    request: redact(req),
    result,
    reading,
  };
}
