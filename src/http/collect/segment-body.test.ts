import { describe, expect, it } from 'vitest';
import { bytes, SURELY_UNDER_LIMIT_BYTES, singleMessageSize } from './segment-body.js';

// singleMessageSize skips measuring a short body on two claims (segment-body.ts): such a body
// written out again stays under the limit, and JSON.stringify can write out anything it nests.
// The second depends on the engine's stack: pinned here, so an upgrade that breaks it shows.

/** The deepest nesting a body of SURELY_UNDER_LIMIT_BYTES can hold: `[[[…]]]`. */
const DEEPEST = SURELY_UNDER_LIMIT_BYTES / 2;

/** Calls `fn` under `frames` frames of the caller's own, as a server's request handler is. */
function underFrames<T>(frames: number, fn: () => T): T {
  return frames === 0 ? fn() : underFrames(frames - 1, fn);
}

describe('singleMessageSize', () => {
  it('writes out the deepest body short enough to skip measuring, from a deep stack', () => {
    const text = `${'['.repeat(DEEPEST)}${']'.repeat(DEEPEST)}`;
    expect(Buffer.byteLength(text)).toBe(SURELY_UNDER_LIMIT_BYTES);
    const deep = JSON.parse(text) as unknown;
    // 500 frames: more than Fastify's and the fast path's own below a route's handler.
    expect(underFrames(500, () => bytes(deep))).toBe(SURELY_UNDER_LIMIT_BYTES);
  });

  it('takes the length as received for a short body, measures a longer or unknown one', () => {
    const message = { type: 'track', event: 'Order Completed', properties: { n: 1e20 } };
    expect(singleMessageSize(message, 90)).toBe(90);
    const written = Buffer.byteLength(JSON.stringify(message));
    expect(singleMessageSize(message, SURELY_UNDER_LIMIT_BYTES + 1)).toBe(written);
    expect(singleMessageSize(message, Number.NaN)).toBe(written);
  });
});
