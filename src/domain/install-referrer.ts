/**
 * Google Play's install referrer (issue 25): the `referrer` parameter of the Play Store link an
 * ad click led to (`https://play.google.com/store/apps/details?id=com.example.shop&referrer=
 * utm_source%3Dnet%26pt_click_id%3DCLK-1`), which Play keeps with the install and hands to the
 * installed app through the Play Install Referrer API's `install_referrer`
 * (https://developer.android.com/google/play/installreferrer/igetinstallreferrerservice).
 * It names the very click that led to the install: the strongest Android signal, deterministic.
 * `/c` puts our click id there (withPlayReferrer) and an install event brings it back as
 * `properties.install_referrer` (installReferrerClickId).
 */

/** Longest referrer string read: Play keeps a few hundred bytes; more is no referrer of ours. */
const MAX_REFERRER_CHARS = 2048;
const PLAY_HOST = 'play.google.com';
const PLAY_PATH = '/store/apps/details';

/**
 * The referrer's parameters. Play's API answers the string decoded once (`utm_source=net&
 * pt_click_id=CLK-1`); some SDKs forward it still URL-encoded (`utm_source%3Dnet%26…`), which
 * is decoded once more when it holds no `=` of its own.
 */
function referrerParams(raw: string): URLSearchParams {
  let text = raw.trim();
  if (!text.includes('=') && /%3d/i.test(text)) {
    try {
      text = decodeURIComponent(text);
    } catch {
      // A broken escape: read as it is.
    }
  }
  return new URLSearchParams(text.startsWith('?') ? text.slice(1) : text);
}

/**
 * Our click id in an install referrer, under the environment's `click_id_param`
 * (`pt_click_id`), or null when the referrer is not a string or names none.
 */
export function installReferrerClickId(raw: unknown, param: string): string | null {
  if (typeof raw !== 'string' || raw.length > MAX_REFERRER_CHARS) return null;
  const id = referrerParams(raw).get(param)?.trim();
  return id && !id.includes('\u0000') ? id : null;
}

/** True for a Google Play Store app link, whose `referrer` Play hands to the installed app. */
export function isPlayStoreLink(location: string): boolean {
  try {
    const url = new URL(location);
    return url.hostname === PLAY_HOST && url.pathname === PLAY_PATH;
  } catch {
    return false;
  }
}

/**
 * A Play Store link with `name=clickId` added inside its `referrer` (created when absent; an
 * earlier `name` replaced), every other parameter of the link and of the referrer kept.
 * URLSearchParams encodes the referrer once, as Play expects.
 */
export function withPlayReferrer(location: string, name: string, clickId: string): string {
  const url = new URL(location);
  const referrer = new URLSearchParams(url.searchParams.get('referrer') ?? '');
  referrer.set(name, clickId);
  url.searchParams.set('referrer', referrer.toString());
  return url.href;
}
