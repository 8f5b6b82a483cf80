import type { Touch } from '../../src/domain/event.js';

/**
 * An impression of dsp1's campaign c1 at `time`, with no user id, creative or placement: the
 * touch the attribution and path unit tests start from, each with its own person and time.
 */
export function touchMaker(
  base: Pick<Touch, 'time' | 'anonymous_id' | 'ip' | 'user_agent'>,
): (over: Partial<Touch>) => Touch {
  return (over) => ({
    env_id: 'env',
    kind: 'impression',
    touch_id: 'IMP-1',
    dest_id: 'dsp1',
    campaign_id: 'c1',
    creative_id: null,
    placement_id: null,
    user_id: null,
    ...base,
    ...over,
  });
}
