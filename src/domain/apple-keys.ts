/**
 * Apple's published public keys for postback signatures (issue 25), Base64 DER
 * SubjectPublicKeyInfo exactly as Apple prints them. A key is trusted here because Apple
 * published it on these pages, never because a postback names it:
 *
 * - SKAdNetwork 2.1 and later, NIST P-256:
 *   https://developer.apple.com/documentation/storekit/verifying-an-install-validation-postback
 * - SKAdNetwork 1.0 and 2.0, NIST P-192:
 *   https://developer.apple.com/documentation/storekit/skadnetwork-1-release-notes and
 *   https://developer.apple.com/documentation/storekit/skadnetwork-2-release-notes
 * - AdAttributionKit, by JWS `kid` (production, then the two development keys):
 *   https://developer.apple.com/documentation/adattributionkit/verifying-a-postback
 *
 * AdAttributionKit's production key is the same P-256 key as SKAdNetwork's.
 */

/** SKAdNetwork 2.1+ and AdAttributionKit production (`apple-cas-identifier/0`). */
export const APPLE_P256_KEY =
  'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWdp8GPcGqmhgzEFj9Z2nSpQVddayaPe4FMzqM9wib1+aHaaIzoHoLN9zW4K8y4SPykE3YVK3sVqW6Af0lfx3gg==';

/** SKAdNetwork 1.0 and 2.0. */
export const APPLE_P192_KEY =
  'MEkwEwYHKoZIzj0CAQYIKoZIzj0DAQEDMgAEMyHD625uvsmGq4C43cQ9BnfN2xslVT5V1nOmAMP6qaRRUll3PB1JYmgSm+62sosG';

/** The AdAttributionKit key id of production postbacks. */
export const AAK_PRODUCTION_KID = 'apple-cas-identifier/0';

/** AdAttributionKit keys by JWS `kid`; `development` ones sign only test postbacks. */
export const AAK_KEYS: Readonly<Record<string, { key: string; development: boolean }>> = {
  [AAK_PRODUCTION_KID]: { key: APPLE_P256_KEY, development: false },
  // Postbacks the system creates in end-to-end development flows.
  'apple-development-identifier/0': {
    key: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAELeEDzpJEP+/qRSE5hJVC1p1J0ssUnQGMzBBbvnACBok8OVGGLgxL0myrKiy6lvRtSlLRsWit87i+vftD8AEqeQ==',
    development: true,
  },
  // Postbacks generated from the device's developer settings.
  'apple-development-identifier/1': {
    key: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8YzdO7eM97s/IJ25kdW5CZ3A14USE5IJ5Ha/vhWaxI6UBI1ZxCEvjrKxVluVGe6qWwF1BDFq+QHqKfH5u+wxHQ==',
    development: true,
  },
};
