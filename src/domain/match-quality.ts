import type { TrackedEvent, UserKeys } from './event.js';

/**
 * One key a platform matches on: its weight in the 0–10 score (the weights of a platform add
 * up to 10, heaviest for what identifies a person on that platform best), whether an event
 * carries it, and what to do about it.
 */
interface Key {
  name: string;
  weight: number;
  has: (u: UserKeys) => boolean;
  tip: string;
}

const key = (name: string, weight: number, has: Key['has'], tip: string): Key => ({
  name,
  weight,
  has,
  tip,
});

const EMAIL = (w: number) =>
  key('email', w, (u) => !!u.email_sha256, 'send the (hashed) email on purchases and sign-ups');
const PHONE = (w: number) =>
  key('phone', w, (u) => !!u.phone_sha256, 'send the phone with its country code');
const USER_ID = (w: number) =>
  key('user_id', w, (u) => !!u.user_id, 'send your user_id once people log in');
const IP_UA = (w: number) =>
  key(
    'ip_user_agent',
    w,
    (u) => !!(u.ip && u.user_agent),
    "forward the buyer's IP and user agent from your backend",
  );
const NAME = (w: number) =>
  key(
    'name',
    w,
    (u) => !!(u.first_name_sha256 && u.last_name_sha256),
    'send first_name and last_name (hashed on arrival)',
  );
const ADDRESS = (w: number) =>
  key(
    'address',
    w,
    (u) => !!(u.zip_sha256 && u.country_sha256),
    'send city, state, zip and country (hashed on arrival)',
  );
const BIRTH_GENDER = (w: number) =>
  key(
    'birth_gender',
    w,
    (u) => !!(u.date_of_birth_sha256 || u.gender_sha256),
    'send date_of_birth or gender when you have them',
  );
const CLICK = (name: string, w: number, has: Key['has'], param: string) =>
  key(name, w, has, `keep ${param} from the landing URL (the tag does) and send it with the event`);

/** What each platform receives and how much each key helps it match (Meta's EMQ order). */
const PLATFORM_KEYS: Readonly<Record<string, readonly Key[]>> = {
  meta: [
    EMAIL(2.5),
    PHONE(1.5),
    CLICK('fbc', 1.5, (u) => !!u.fbc, 'fbclid (_fbc)'),
    key('fbp', 1, (u) => !!u.fbp, 'forward the _fbp cookie from the browser'),
    USER_ID(1),
    IP_UA(1),
    NAME(0.5),
    ADDRESS(0.5),
    BIRTH_GENDER(0.5),
  ],
  snapchat: [
    EMAIL(3),
    PHONE(1.5),
    CLICK('sc_click_id', 2, (u) => !!u.sc_click_id, 'ScCid'),
    USER_ID(1),
    IP_UA(1.5),
    NAME(0.5),
    ADDRESS(0.5),
  ],
  pinterest: [
    EMAIL(3.5),
    PHONE(1),
    CLICK('epik', 2, (u) => !!u.epik, 'epik (_epik)'),
    USER_ID(1),
    IP_UA(1.5),
    NAME(0.5),
    ADDRESS(0.5),
  ],
  tiktok: [
    EMAIL(3),
    PHONE(1.5),
    CLICK('ttclid', 2, (u) => !!u.ttclid, 'ttclid'),
    key('ttp', 1, (u) => !!u.ttp, 'forward the _ttp cookie from the browser'),
    USER_ID(1),
    IP_UA(1),
    NAME(0.25),
    ADDRESS(0.25),
  ],
  google_ads: [
    CLICK('gclid', 6, (u) => !!(u.gclid || u.gbraid || u.wbraid), 'gclid/gbraid/wbraid'),
    EMAIL(3),
    key('phone', 1, (u) => !!u.phone_e164_sha256, 'send the phone in clear (hashed on arrival)'),
  ],
  linkedin: [
    CLICK('li_fat_id', 4.5, (u) => !!u.li_fat_id, 'li_fat_id'),
    EMAIL(4.5),
    // userInfo is sent in clear from the outbox row: the stored hashes say the event had both
    // names, though a caller that sent only `*_sha256` gives LinkedIn none.
    key(
      'name',
      1,
      (u) => !!(u.first_name_sha256 && u.last_name_sha256),
      'send first_name and last_name in clear (LinkedIn userInfo; hashes alone cannot be sent)',
    ),
  ],
  reddit: [CLICK('rdt_cid', 3, (u) => !!u.rdt_cid, 'rdt_cid'), EMAIL(3), USER_ID(1), IP_UA(3)],
  ga4: [
    key('client_id', 7, (u) => !!(u.anonymous_id || u.cookie_id), 'load the tag (client id)'),
    USER_ID(3),
  ],
};

/** Destinations without keys of their own (webhooks, postbacks): pixeltrail's own matching. */
const DEFAULT_KEYS: readonly Key[] = [
  EMAIL(3),
  USER_ID(2),
  PHONE(1),
  key(
    'cookie',
    2,
    (u) => !!(u.anonymous_id || u.cookie_id),
    'load the tag, or forward the ptid cookie',
  ),
  IP_UA(2),
];

/** One piece of advice: the key, how often it is there, and the score it would add. */
export interface MatchAdvice {
  key: string;
  share: number;
  gain: number;
  tip: string;
}

/** Like Meta's Event Match Quality, for one platform and a set of events. */
export interface PlatformMatchQuality {
  score: number;
  sample: number;
  coverage: Record<string, number>;
  /** Ranked by expected gain, largest first. */
  advice: MatchAdvice[];
}

const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places;

/** Advice worth giving adds at least this much to the 0–10 score. */
const MIN_GAIN = 0.1;

/**
 * Scores events by the keys one destination type actually receives (Meta counts fbp, fbc
 * and the address; Google Ads only click ids, email and phone) and ranks what to add by the
 * score it would gain: weight × share of events still missing it.
 */
export function platformMatchQuality(
  type: string,
  events: readonly TrackedEvent[],
): PlatformMatchQuality {
  const keys = PLATFORM_KEYS[type] ?? DEFAULT_KEYS;
  const coverage: Record<string, number> = {};
  const advice: MatchAdvice[] = [];
  let score = 0;
  for (const k of keys) {
    const share =
      events.length === 0 ? 0 : events.filter((e) => k.has(e.user)).length / events.length;
    coverage[k.name] = round(share, 2);
    score += k.weight * share;
    const gain = k.weight * (1 - share);
    if (gain >= MIN_GAIN)
      advice.push({ key: k.name, share: round(share, 2), gain: round(gain, 1), tip: k.tip });
  }
  advice.sort((a, b) => b.gain - a.gain);
  return { score: round(score, 1), sample: events.length, coverage, advice };
}

/** The score over all the destination's events and per event name. */
export function destinationMatchQuality(
  type: string,
  eventNames: readonly string[],
  sample: readonly TrackedEvent[],
): PlatformMatchQuality & { by_event: Record<string, PlatformMatchQuality> } {
  const mine = sample.filter((e) => eventNames.includes(e.event_name) && !e.test_code);
  const byEvent: Record<string, PlatformMatchQuality> = {};
  for (const name of eventNames) {
    const of = mine.filter((e) => e.event_name === name);
    if (of.length > 0) byEvent[name] = platformMatchQuality(type, of);
  }
  return { ...platformMatchQuality(type, mine), by_event: byEvent };
}
