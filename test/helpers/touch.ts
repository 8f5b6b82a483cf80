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

/**
 * Touch number `n` of an environment at `time` (id `<env_id>-<n>`), one of seven browsers,
 * campaign `even` or `odd` by its number: the touches the store's time-ordered reads are
 * checked on (the debugger's list, journeys, the health page).
 */
export function numberedTouch(
  env_id: string,
  n: number,
  time: number,
  kind: Touch['kind'] = 'impression',
  traffic?: Touch['traffic'],
): Touch {
  return {
    env_id,
    kind,
    touch_id: `${env_id}-${n}`,
    dest_id: 'dsp1',
    campaign_id: n % 2 === 0 ? 'even' : 'odd',
    creative_id: null,
    placement_id: null,
    time,
    anonymous_id: `a-${n % 7}`,
    user_id: null,
    ip: null,
    user_agent: null,
    ...(traffic ? { traffic } : {}),
  };
}

/** A click of dsp1's `campaign_id` under the browser id `anonymous_id` alone (no address). */
export function browserClick(
  env_id: string,
  touch_id: string,
  campaign_id: string,
  time: number,
  anonymous_id: string,
): Touch {
  return {
    env_id,
    kind: 'click',
    touch_id,
    dest_id: 'dsp1',
    campaign_id,
    creative_id: null,
    placement_id: null,
    time,
    anonymous_id,
    user_id: null,
    ip: null,
    user_agent: null,
  };
}
