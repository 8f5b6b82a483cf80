import { describe, expect, it } from 'vitest';
import {
  hashCustomerInfo,
  normalizeCity,
  normalizeCountry,
  normalizeDateOfBirth,
  normalizeGender,
  normalizeName,
  normalizeState,
  normalizeZip,
} from './customer-info.js';
import { hashEmail, hashPhone } from './identity.js';

const YEAR = 2026;

// Input, normalised form and SHA-256 exactly as published on
// https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
describe("Meta's published vectors", () => {
  it('CI01 em: John_Smith@gmail.com', () => {
    expect(hashEmail('John_Smith@gmail.com')).toBe(
      '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f',
    );
  });
  it('CI02 ph: US (650)555-1212 with its country code', () => {
    expect(hashPhone('+1 (650)555-1212')).toBe(
      'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176',
    );
  });
  it('CI03 fn: Mary, 정 and Valéry (accent kept, UTF-8)', () => {
    expect(hashCustomerInfo('first_name', 'Mary', YEAR)).toBe(
      '6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec',
    );
    expect(hashCustomerInfo('first_name', '정', YEAR)).toBe(
      '8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14',
    );
    expect(hashCustomerInfo('last_name', 'Valéry', YEAR)).toBe(
      '08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c',
    );
  });
  it('CI04 db: 2/16/1997 is 19970216', () => {
    expect(normalizeDateOfBirth('2/16/1997', YEAR)).toBe('19970216');
    expect(hashCustomerInfo('date_of_birth', '2/16/1997', YEAR)).toBe(
      '01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c',
    );
  });
  it('CI05 country: United States is us', () => {
    expect(hashCustomerInfo('country', 'United States', YEAR)).toBe(
      '79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621',
    );
  });
  it("CI06 ct, st, zp and ge give the page's example forms", () => {
    expect(['Paris', 'London', 'New York'].map(normalizeCity)).toEqual([
      'paris',
      'london',
      'newyork',
    ]);
    expect(['AZ', 'California'].map(normalizeState)).toEqual(['az', 'ca']);
    expect(['94035', '1987', '75018', 'M1 1AE'].map(normalizeZip)).toEqual([
      '94035',
      '1987',
      '75018',
      'm11ae',
    ]);
    expect(['F', 'Male'].map(normalizeGender)).toEqual(['f', 'm']);
  });
});

describe('normalisation edge cases', () => {
  it('CI07 a name loses punctuation and spaces but keeps its letters', () => {
    expect(normalizeName("  O'Brien-Smith ")).toBe('obriensmith');
    expect(normalizeName('Ma ry')).toBe('mary');
    expect(normalizeName('...')).toBeNull();
  });
  it('CI08 a decomposed é hashes like the precomposed one', () => {
    expect(hashCustomerInfo('first_name', 'Vale\u0301ry', YEAR)).toBe(
      hashCustomerInfo('first_name', 'Valéry', YEAR),
    );
  });
  it('CI09 dates of birth in the usual spellings, impossible ones refused', () => {
    for (const s of ['1997-02-16', '1997/2/16', '19970216', '16.02.1997', '1997-02-16T00:00:00Z'])
      expect(normalizeDateOfBirth(s, YEAR)).toBe('19970216');
    for (const s of [
      '1997-02-30',
      '1899-01-01',
      '2030-01-01',
      '16/02/1997',
      'yesterday',
      '1997216',
    ])
      expect(normalizeDateOfBirth(s, YEAR)).toBeNull();
  });
  it('CI10 a US ZIP+4 keeps its first 5 digits; other codes lose only spaces and dashes', () => {
    expect(normalizeZip('94035-1234')).toBe('94035');
    expect(normalizeZip('940351234')).toBe('94035');
    expect(normalizeZip('01310-100')).toBe('01310100');
    expect(normalizeZip('SW1A 1AA')).toBe('sw1a1aa');
    expect(normalizeZip('1')).toBeNull();
  });
  it('CI11 a state outside the US is squeezed; a US state name becomes its code', () => {
    expect(normalizeState('New York')).toBe('ny');
    expect(normalizeState('Île-de-France')).toBe('îledefrance');
  });
  it('CI12 countries by code, English name or common alias; unknown ones refused', () => {
    expect(['DE', 'germany', 'USA', 'UK', 'United Kingdom'].map(normalizeCountry)).toEqual([
      'de',
      'de',
      'us',
      'gb',
      'gb',
    ]);
    expect(normalizeCountry('XX')).toBeNull();
    expect(normalizeCountry('EU')).toBeNull();
    expect(normalizeCountry('Atlantis')).toBeNull();
  });
  it('CI13 only f and m are genders the platforms take', () => {
    expect(normalizeGender('x')).toBeNull();
    expect(normalizeGender('')).toBeNull();
  });
});
