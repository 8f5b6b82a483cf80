import { describe, expect, it } from 'vitest';
import {
  hashEmail,
  hashPhone,
  hashPhoneE164,
  isSha256Hex,
  normalizeEmail,
  normalizePhone,
  sha256Hex,
} from './identity.js';

describe('identity normalization and hashing', () => {
  it('I01 sha256 matches the published vector for "abc"', () => {
    expect(sha256Hex('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('I02 email is trimmed and lower-cased before hashing', () => {
    expect(normalizeEmail('  John.Doe@Example.COM ')).toBe('john.doe@example.com');
    expect(hashEmail(' John.Doe@Example.COM')).toBe(sha256Hex('john.doe@example.com'));
  });

  it('I03 an email without a domain is refused', () => {
    expect(normalizeEmail('not-an-email')).toBeNull();
    expect(hashEmail('a@b')).toBeNull();
  });

  it('I04 phone keeps E.164 digits only, no plus, no separators', () => {
    expect(normalizePhone('+1 (555) 010-9999')).toBe('15550109999');
    expect(normalizePhone('0044 20 7946 0000')).toBe('442079460000');
    expect(hashPhone('+1 555 010 9999')).toBe(sha256Hex('15550109999'));
  });

  it('I05 a phone too short to be real is refused', () => {
    expect(normalizePhone('12-34')).toBeNull();
  });

  it('I06 recognises a hex digest', () => {
    expect(isSha256Hex(sha256Hex('x'))).toBe(true);
    expect(isSha256Hex('XYZ')).toBe(false);
  });

  it('I07 the E.164 form with the plus sign is hashed for Google and TikTok', () => {
    expect(hashPhoneE164('+1 (555) 010-9999')).toBe(sha256Hex('+15550109999'));
    expect(hashPhoneE164('12')).toBeNull();
  });
});
