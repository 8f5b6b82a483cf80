import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  hmacSha1Signature,
  newStamp,
  oauth1Header,
  percentEncode,
  signatureBaseString,
} from './oauth1.js';

describe('oauth 1.0a signing', () => {
  it('OA01 the signature base string matches RFC 5849 §3.4.1.1 (query, form body, oauth_*)', () => {
    const base = signatureBaseString(
      {
        method: 'POST',
        url: 'http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b',
        formParams: [
          ['c2', ''],
          ['a3', '2 q'],
        ],
      },
      [
        ['oauth_consumer_key', '9djdj82h48djs9d2'],
        ['oauth_token', 'kkk9d7dh3k39sjv7'],
        ['oauth_signature_method', 'HMAC-SHA1'],
        ['oauth_timestamp', '137131201'],
        ['oauth_nonce', '7d8f3e4a'],
      ],
    );
    expect(base).toBe(
      'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q' +
        '%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_' +
        'key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m' +
        'ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk' +
        '9d7dh3k39sjv7',
    );
  });

  it("OA02 X's published example signs to hCtSmYh+iHYCEqBWrE7C7hYmtUk=", () => {
    const header = oauth1Header(
      {
        method: 'POST',
        url: 'https://api.twitter.com/1.1/statuses/update.json?include_entities=true',
        formParams: [['status', 'Hello Ladies + Gentlemen, a signed OAuth request!']],
      },
      {
        consumerKey: 'xvz1evFS4wEEPTGEFPHBog',
        consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
        token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb',
        tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
      },
      { nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg', timestamp: 1318622958 },
    );
    expect(header).toBe(
      'OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", ' +
        'oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", ' +
        'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D", ' +
        'oauth_signature_method="HMAC-SHA1", oauth_timestamp="1318622958", ' +
        'oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", ' +
        'oauth_version="1.0"',
    );
  });

  it('OA03 percent-encoding leaves only unreserved characters, upper-case hex, UTF-8 bytes', () => {
    expect(percentEncode("Ladies + Gentlemen!*'()~._-")).toBe(
      'Ladies%20%2B%20Gentlemen%21%2A%27%28%29~._-',
    );
    expect(percentEncode('☃')).toBe('%E2%98%83');
  });

  it('OA04 the key joins both encoded secrets with &, even when the token secret is empty', () => {
    // RFC 5849 §3.4.2: key = encode(consumer secret) & encode(token secret).
    const expected = createHmac('sha1', 'a%26b&').update('x').digest('base64');
    expect(hmacSha1Signature('x', 'a&b', '')).toBe(expected);
    expect(hmacSha1Signature('x', 'a', 'b')).not.toBe(expected);
  });

  it('OA05 a fresh stamp has a 32-hex nonce that differs per call and the time in seconds', () => {
    const a = newStamp(1_763_900_000_999);
    expect(a.timestamp).toBe(1_763_900_000);
    expect(a.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(newStamp(0).nonce).not.toBe(a.nonce);
  });
});
