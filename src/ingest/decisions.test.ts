import { describe, expect, it } from 'vitest';
import { touchMaker } from '../../test/helpers/touch.js';
import type { DestinationConfig } from '../domain/config-types.js';
import { conversionPathTouches } from '../domain/conversion-path.js';
import type { Touch, TrackedEvent } from '../domain/event.js';
import type { IngestTx, TouchLookup } from '../store/store.js';
import { decide } from './decisions.js';

const H = 3600;
const D = 86_400;
const NOW = 1_763_900_000;
const OFFICE_IP = 'h:Zs1HhO79ViU9Pbd_oFFp3z';

const dest = {
  id: 'dsp1',
  events: ['Purchase'],
  click_window_ms: 7 * D * 1000,
  view_window_ms: D * 1000,
} as DestinationConfig;

const touch = touchMaker({
  time: NOW - H,
  anonymous_id: 'anon-stranger',
  ip: OFFICE_IP,
  user_agent: 'Other UA',
});

function purchase(anonymous_id: string): TrackedEvent {
  return {
    env_id: 'env',
    event_name: 'Purchase',
    event_id: 'ord-1',
    event_time: NOW,
    source: 'server',
    user: { anonymous_id, ip: OFFICE_IP, user_agent: 'UA' },
    properties: { value: 10, currency: 'EUR' },
    consent: { ads: true, analytics: true },
    warnings: [],
    verified: 'write_key',
  };
}

/** An ingest transaction over `touches` that records the keys of every touch lookup. */
function txOver(touches: Touch[]) {
  const lookups: TouchLookup[] = [];
  const tx = {
    findLinkedAnonymousIds: async () => [],
    findTouches: async (l: TouchLookup) => {
      lookups.push(l);
      return touches.filter(
        (t) =>
          t.time >= l.since &&
          ((t.anonymous_id !== null && l.anonymous_ids.includes(t.anonymous_id)) ||
            (l.ip !== undefined && t.ip === l.ip)),
      );
    },
  } as unknown as IngestTx;
  return { tx, byIp: () => lookups.filter((l) => l.ip !== undefined).length };
}

describe('attribution decisions', () => {
  it("DC01 a buyer credited by their own cookie: the address's touches are not read", async () => {
    const { tx, byIp } = txOver([
      touch({ kind: 'click', touch_id: 'CLK-own', anonymous_id: 'anon-buyer', time: NOW - D }),
      touch({ kind: 'click', touch_id: 'CLK-stranger', time: NOW - H }),
    ]);
    const d = await decide(tx, purchase('anon-buyer'), [dest], {});
    expect(d.decisions.get('dsp1')).toMatchObject({
      attributed: true,
      attribution: { click_id: 'CLK-own', match_key: 'cookie' },
    });
    expect(d.path?.touches.map((t) => t.touch_id)).toEqual(['CLK-own']);
    expect(byIp()).toBe(0);
  });

  it('DC02 a buyer with no touch of their own is credited by the address', async () => {
    const { tx, byIp } = txOver([touch({ kind: 'click', touch_id: 'CLK-stranger' })]);
    const d = await decide(tx, purchase('anon-new'), [dest], {});
    expect(d.decisions.get('dsp1')).toMatchObject({
      attributed: true,
      attribution: { click_id: 'CLK-stranger', match_key: 'ip' },
    });
    expect(byIp()).toBe(1);
  });

  it("DC03 an own touch that credits nothing leaves the address's touches to compete", async () => {
    // The buyer's impression is 3 days old, outside the 1 d view window: the IP click wins.
    const { tx, byIp } = txOver([
      touch({ touch_id: 'IMP-own', anonymous_id: 'anon-buyer', time: NOW - 3 * D }),
      touch({ kind: 'click', touch_id: 'CLK-stranger', time: NOW - H }),
    ]);
    const d = await decide(tx, purchase('anon-buyer'), [dest], {});
    expect(d.decisions.get('dsp1')).toMatchObject({
      attributed: true,
      attribution: { click_id: 'CLK-stranger', match_key: 'ip' },
    });
    // Read both ways, the path still holds the person's own impression alone (DESIGN §6).
    const p = d.path;
    expect(p && conversionPathTouches(p.who, p.touches, p.rules).map((t) => t.touch_id)).toEqual([
      'IMP-own',
    ]);
    expect(byIp()).toBe(1);
  });

  it("DC04 one destination credited by the buyer's own click, another open: the address is read", async () => {
    const dsp2 = { ...dest, id: 'dsp2' };
    const { tx, byIp } = txOver([
      touch({
        kind: 'click',
        touch_id: 'CLK-own',
        dest_id: 'dsp1',
        anonymous_id: 'anon-buyer',
        time: NOW - D,
      }),
      touch({ kind: 'click', touch_id: 'CLK-stranger', dest_id: 'dsp2', time: NOW - H }),
    ]);
    const d = await decide(tx, purchase('anon-buyer'), [dest, dsp2], {});
    expect(d.decisions.get('dsp1')).toMatchObject({
      attributed: true,
      attribution: { click_id: 'CLK-own', match_key: 'cookie' },
    });
    // Settled for dsp1 alone: dsp2 is open, so the address's touches are read and credit it.
    expect(d.decisions.get('dsp2')).toMatchObject({
      attributed: true,
      attribution: { click_id: 'CLK-stranger', match_key: 'ip' },
    });
    expect(byIp()).toBe(1);
  });
});
