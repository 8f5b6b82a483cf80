import { describe, expect, it } from 'vitest';
import { INSTALL_FRAUD_DEFAULTS } from '../domain/install-fraud.js';
import { parseConfig } from './config-parse.js';

const env = (extra: Record<string, unknown> = {}) => ({
  admin_token: 'adm',
  environments: [{ id: 'e', write_key: 'wk', ...extra }],
});

describe('install_fraud config (issue 25)', () => {
  it('IFC01 absent: the defaults; each field may be set, 0 and 0s turn a check off', () => {
    expect(parseConfig(env(), {}).config.environments[0].install_fraud).toEqual(
      INSTALL_FRAUD_DEFAULTS,
    );
    const { config, errors } = parseConfig(
      env({
        install_fraud: {
          install_events: ['first_open'],
          click_injection_window: '0s',
          flood_clicks_per_device: 0,
          flood_clicks_per_ip: 50,
          suspicious_installs: 'reject',
          datacenter_ips: ['3.5.140.0/22', '2600:1f00::/24', '192.0.2.7'],
        },
      }),
      {},
    );
    expect(errors).toEqual([]);
    expect(config.environments[0].install_fraud).toEqual({
      install_events: ['first_open'],
      click_injection_window_ms: 0,
      flood_clicks_per_device: 0,
      flood_clicks_per_ip: 50,
      suspicious_installs: 'reject',
      datacenter_ips: ['3.5.140.0/22', '2600:1f00::/24', '192.0.2.7'],
    });
  });

  it('IFC02 each bad field is named by its path', () => {
    const { errors } = parseConfig(
      env({
        install_fraud: {
          click_injection_window: 'soon',
          flood_clicks_per_ip: -1,
          suspicious_installs: 'block',
          datacenter_ips: ['3.5.140.0/22', 'not-a-range'],
          flood_per_hour: 3,
        },
      }),
      {},
    );
    expect(errors.map((e) => e.field).sort()).toEqual([
      'environments[0].install_fraud.click_injection_window',
      'environments[0].install_fraud.datacenter_ips[1]',
      'environments[0].install_fraud.flood_clicks_per_ip',
      'environments[0].install_fraud.flood_per_hour',
      'environments[0].install_fraud.suspicious_installs',
    ]);
    expect(parseConfig(env({ install_fraud: 7 }), {}).errors.map((e) => e.field)).toEqual([
      'environments[0].install_fraud',
    ]);
  });
});
