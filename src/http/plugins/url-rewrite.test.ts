import { describe, expect, it } from 'vitest';
import { rewriteUrl } from './url-rewrite.js';

describe('URL rewrite before routing', () => {
  it.each([
    ['/i?env_id=e&imp_id=1', '', '/i?env_id=e&imp_id=1'],
    ['/i?e=pv&aid=e', '', '/com.snowplowanalytics.snowplow/i?e=pv&aid=e'],
    ['/i?aid=e&e=pv', '', '/com.snowplowanalytics.snowplow/i?aid=e&e=pv'],
    ['/i?env_id=e&dest=1', '', '/i?env_id=e&dest=1'],
    ['/metrics-xyz/t.js', '/metrics-xyz', '/t.js'],
    ['/metrics-xyz/i?e=pv', '/metrics-xyz', '/com.snowplowanalytics.snowplow/i?e=pv'],
    ['/metrics-xyz', '/metrics-xyz', '/'],
    ['/metrics-xyzzy/t.js', '/metrics-xyz', '/metrics-xyzzy/t.js'],
    ['/t.js', '/metrics-xyz', '/t.js'],
  ])('RW %s (prefix %j) routes as %s', (url, prefix, out) => {
    expect(rewriteUrl(url, prefix)).toBe(out);
  });
});
