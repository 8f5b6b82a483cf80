import { Type } from '@sinclair/typebox';
import { DEVICE_ID_KEYS } from '../../domain/device-id.js';

const id = (description: string) => Type.String({ description });
const optional = (description: string) => Type.Optional(Type.String({ description }));

/**
 * `GET /i` as the API reference describes it (docs/endpoints.md). The route checks nothing
 * against it (`describedOnly`): most hits are answered by the fast path in front of Fastify
 * (fast-path.ts), and either way a problem is a warning header on the GIF, never a refusal.
 */
export const IMPRESSION_ROUTE = {
  summary: 'impression pixel: always a 42-byte transparent GIF',
  description:
    '`Cache-Control: no-store`; sets the `ptid` cookie when the visitor may be given one. ' +
    'Problems (missing or unknown ids, bots, opt-out, a URL or headers over 32 KiB: ' +
    '`request_too_large`) come back in `X-Pixeltrail-Warnings` and are counted in ' +
    '`pixeltrail_invalid_hits_total{endpoint,reason}`: the page never breaks. A value that is ' +
    'an unexpanded ad-server macro (`{imp_id}`) is dropped with `unexpanded_macro:<name>`. ' +
    '`HEAD` answers the headers GET would and records nothing (`reason="head"`). ' +
    'Answered in front of Fastify by the pixel fast path, with the same answer.',
  querystring: Type.Object({
    env_id: id('the environment'),
    dest_id: id('the destination the ad ran for'),
    imp_id: id("the ad server's impression id, which a later conversion is credited to"),
    campaign_id: optional('kept on the touch, reported by campaign'),
    creative_id: optional('kept on the touch'),
    placement_id: optional('kept on the touch'),
    user_id: optional("the advertiser's user id, when the ad server knows it"),
    ...Object.fromEntries(
      DEVICE_ID_KEYS.map((k) => [k, optional('mobile advertising id: the touch is the device')]),
    ),
    gdpr: optional('TCF macro: 1 when GDPR applies'),
    gdpr_consent: optional('TCF consent string'),
    us_privacy: optional('CCPA string'),
    gpp: optional('GPP string'),
    gpp_sid: optional('GPP section ids'),
    cb: optional('cache buster; ignored'),
  }),
};
