import { describe, expect, it } from 'vitest';
import type { Touch } from './event.js';
import { INSTALL_FRAUD_DEFAULTS } from './install-fraud.js';
import { emptyVerdicts, recordedExclusion } from './install-verdicts.js';

const click = (touch_id: string, time: number): Touch => ({
  env_id: 'e',
  kind: 'click',
  touch_id,
  dest_id: null,
  campaign_id: null,
  creative_id: null,
  placement_id: null,
  time,
  anonymous_id: 'gaid:d',
  user_id: null,
  ip: null,
  user_agent: null,
});

describe('recorded install verdicts', () => {
  it('IV01 explain what was recorded: the recorded window and floods, whatever the config says now', () => {
    const recorded = {
      ...emptyVerdicts({ ...INSTALL_FRAUD_DEFAULTS, click_injection_window_ms: 30_000 }, null),
      flooding_ip: ['C-FLOOD'],
    };
    const touches = [click('C-20S', 980), click('C-FLOOD', 500), click('C-CLEAN', 400)];
    // The config now says 10 s: the install was judged by 30 s.
    const exclude = recordedExclusion(recorded, INSTALL_FRAUD_DEFAULTS, null, touches);
    expect(exclude?.(touches[0], 'device_id', 20)).toContain(
      'under the 30 s click_injection_window',
    );
    expect(exclude?.(touches[1], 'device_id', 500)).toBe(
      'click flooding: its IP address sent more than 200 clicks in the hour around click C-FLOOD',
    );
    expect(exclude?.(touches[2], 'device_id', 600)).toBeNull();
  });

  it('IV02 an install refused as suspicious bars every touch with its recorded reason', () => {
    const why =
      'suspicious install: user agent curl/8.0 is a bot, headless browser or HTTP library';
    const reject = { ...INSTALL_FRAUD_DEFAULTS, suspicious_installs: 'reject' as const };
    const touches = [click('C1', 100)];
    const refused = recordedExclusion(
      emptyVerdicts(reject, why),
      INSTALL_FRAUD_DEFAULTS,
      null,
      touches,
    );
    expect(refused?.(touches[0], 'device_id', 900)).toBe(why);
    const flagged = recordedExclusion(
      emptyVerdicts(INSTALL_FRAUD_DEFAULTS, why),
      reject,
      null,
      touches,
    );
    expect(flagged?.(touches[0], 'device_id', 900)).toBeNull();
  });
});
