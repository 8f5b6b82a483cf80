import { describe, expect, it } from 'vitest';
import {
  ChannelClassifier,
  DEFAULT_CHANNEL_RULES,
  DEFAULT_IGNORED_REFERRERS,
  parseChannelSettings,
  UNASSIGNED,
} from '../domain/channel-rules.js';
import { channelFacts, ignoredVisit } from '../domain/touch-channel.js';
import { readTrafficSource } from '../domain/traffic-source.js';
import { knownSources } from './source-list.js';

const ctx = {
  sources: knownSources(),
  siteHosts: ['shop.example'],
  clickIdParam: 'pt_click_id',
};
const rules = new ChannelClassifier(DEFAULT_CHANNEL_RULES);

/** The source / medium and channel of a landing, as the report shows them; null: no visit. */
function landing(url: string, referrer = '', stated = {}) {
  const ts = readTrafficSource({ url, referrer, stated }, ctx);
  if (!ts) return null;
  const channel = rules.channelOf(
    channelFacts({ kind: 'visit', campaign_id: null, traffic_source: ts }, undefined),
  );
  return { sm: `${ts.source} / ${ts.medium}`, channel, ts };
}

// Real landings as browsers report them (document.referrer under the default
// strict-origin-when-cross-origin policy is the origin only: https://www.google.com/).
const TABLE: Array<[string, string, string, string | null, string | null]> = [
  [
    'CH01 Google organic',
    'https://shop.example/shoes/red',
    'https://www.google.com/',
    'google / organic',
    'Organic Search',
  ],
  [
    'CH02 Google Ads auto-tagged (gclid)',
    'https://shop.example/shoes?gclid=Cj0KCQjw3ZayBhDRARIsAPWzx8o',
    'https://www.google.com/',
    'google / cpc',
    'Paid Search',
  ],
  [
    'CH03 Google Ads, gclid and UTM',
    'https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring_sale&gclid=abc',
    'https://www.google.com/',
    'google / cpc',
    'Paid Search',
  ],
  [
    'CH04 Google.de organic',
    'https://shop.example/',
    'https://www.google.de/',
    'google / organic',
    'Organic Search',
  ],
  [
    'CH05 Facebook post with fbclid',
    'https://shop.example/p?fbclid=IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMEU',
    'https://l.facebook.com/',
    'facebook / social',
    'Organic Social',
  ],
  [
    'CH06 fbclid without a referrer (in-app browser)',
    'https://shop.example/?fbclid=IwAR0abc',
    '',
    'facebook / social',
    'Organic Social',
  ],
  [
    'CH07 Meta ad tagged paid_social',
    'https://shop.example/?utm_source=facebook&utm_medium=paid_social&utm_campaign=retarget_q2&fbclid=IwAR1',
    'https://m.facebook.com/',
    'facebook / paid_social',
    'Paid Social',
  ],
  [
    'CH08 Instagram link in bio',
    'https://shop.example/',
    'https://l.instagram.com/',
    'instagram / social',
    'Organic Social',
  ],
  [
    'CH09 newsletter UTM',
    'https://shop.example/sale?utm_source=newsletter&utm_medium=email&utm_campaign=may_2025',
    '',
    'newsletter / email',
    'Email',
  ],
  ['CH10 Gmail web', 'https://shop.example/', 'https://mail.google.com/', 'gmail / email', 'Email'],
  [
    'CH11 Gmail app on Android',
    'https://shop.example/',
    'android-app://com.google.android.gm/',
    'gmail / email',
    'Email',
  ],
  [
    'CH12 Bing organic',
    'https://shop.example/',
    'https://www.bing.com/search?q=red+shoes',
    'bing / organic',
    'Organic Search',
  ],
  [
    'CH13 Microsoft Ads (msclkid)',
    'https://shop.example/?msclkid=2d3f1c0ab1d21b0e',
    'https://www.bing.com/',
    'bing / cpc',
    'Paid Search',
  ],
  [
    'CH14 DuckDuckGo',
    'https://shop.example/',
    'https://duckduckgo.com/',
    'duckduckgo / organic',
    'Organic Search',
  ],
  [
    'CH15 YouTube',
    'https://shop.example/',
    'https://www.youtube.com/',
    'youtube / video',
    'Organic Video',
  ],
  ['CH16 X (t.co)', 'https://shop.example/', 'https://t.co/', 'twitter / social', 'Organic Social'],
  [
    'CH17 TikTok ad (ttclid)',
    'https://shop.example/?ttclid=E.C.P.abc',
    'https://www.tiktok.com/',
    'tiktok / cpc',
    'Paid Social',
  ],
  [
    'CH18 a blog linking',
    'https://shop.example/',
    'https://blog.example.org/best-shoes',
    'blog.example.org / referral',
    'Referral',
  ],
  [
    'CH19 ChatGPT answer',
    'https://shop.example/?utm_source=chatgpt.com',
    'https://chatgpt.com/',
    'chatgpt.com / (not set)',
    UNASSIGNED,
  ],
  [
    'CH20 affiliate',
    'https://shop.example/?utm_source=awin&utm_medium=affiliate',
    'https://www.awin1.com/',
    'awin / affiliate',
    'Affiliates',
  ],
  [
    'CH21 DSP display',
    'https://shop.example/?utm_source=dv360&utm_medium=cpm&utm_campaign=prospecting',
    '',
    'dv360 / cpm',
    'Display',
  ],
  [
    'CH22 Google Shopping ad',
    'https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=shopping_brand',
    '',
    'google / cpc',
    'Paid Shopping',
  ],
  ['CH23 SMS', 'https://shop.example/?utm_source=sms&utm_medium=sms', '', 'sms / sms', 'SMS'],
  ['CH24 direct (typed, bookmark)', 'https://shop.example/', '', null, null],
  [
    'CH25 next page of the site',
    'https://shop.example/cart',
    'https://shop.example/shoes',
    null,
    null,
  ],
  [
    'CH26 subdomain of the site',
    'https://shop.example/cart',
    'https://www.shop.example/',
    null,
    null,
  ],
];

describe('channels of real landings (default GA4 rules)', () => {
  for (const [name, url, referrer, sm, channel] of TABLE)
    it(name, () => {
      const got = landing(url, referrer);
      expect(got && { sm: got.sm, channel: got.channel }).toEqual(
        sm === null ? null : { sm, channel },
      );
    });

  it('CH27 UTM fields keep campaign, term, content and id; the click id parameter is named', () => {
    const got = landing(
      'https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=Spring%20Sale&utm_term=red+shoes&utm_content=ad_2&utm_id=c-991&gclid=x',
    );
    expect(got?.ts).toMatchObject({
      campaign: 'Spring Sale',
      term: 'red shoes',
      content: 'ad_2',
      id: 'c-991',
      click_id_param: 'gclid',
      source_category: 'search',
      by: 'utm',
    });
  });

  it('CH28 a stated campaign (Segment context.campaign) wins over the URL', () => {
    const got = landing('https://shop.example/?utm_source=url', '', {
      source: 'newsletter',
      medium: 'email',
      campaign: 'welcome',
    });
    expect(got?.sm).toBe('newsletter / email');
    expect(got?.ts.campaign).toBe('welcome');
  });

  it('CH29 our own click link landing is marked: its click touch is the visit', () => {
    expect(
      landing('https://shop.example/?pt_click_id=clk_1&utm_source=dsp')?.ts.via_click_link,
    ).toBe(true);
  });

  it('CH30 a payment page sending the buyer back is an ignored referrer', () => {
    const got = landing('https://shop.example/thanks', 'https://www.paypal.com/');
    expect(got?.sm).toBe('paypal.com / referral');
    const touch = { kind: 'visit' as const, campaign_id: null, traffic_source: got?.ts };
    expect(ignoredVisit(touch, DEFAULT_IGNORED_REFERRERS)).toBe(true);
    // An organic Google visit is not a Google login page.
    const google = landing('https://shop.example/', 'https://www.google.com/');
    expect(
      ignoredVisit({ kind: 'visit', campaign_id: null, traffic_source: google?.ts }, [
        'accounts.google.com',
      ]),
    ).toBe(false);
  });
});

describe('ad touches take their destination type', () => {
  it('CH31 Meta impression is Paid Social, Google Ads click Paid Search, a DSP Display', () => {
    const of = (kind: 'impression' | 'click', type: string | undefined) =>
      rules.channelOf(channelFacts({ kind, campaign_id: 'c1', dest_id: 'd' }, type));
    expect(of('impression', 'meta')).toBe('Paid Social');
    expect(of('click', 'google_ads')).toBe('Paid Search');
    expect(of('impression', 'tradedesk')).toBe('Display');
    expect(of('impression', 'webhook')).toBe('Display');
  });
});

describe('channel settings', () => {
  it('CH32 own rules come first, with each bad field named', () => {
    const errors: Array<{ field: string; message: string }> = [];
    const s = parseChannelSettings(
      {
        rules: [
          { channel: 'Newsletter', medium: 'email', campaign: ['news*'] },
          { channel: '', medium: 5 },
          { channel: 'X', source_category: ['forum'], colour: 'red' },
        ],
        ignored_referrers: ['PayPal.com'],
      },
      'channels',
      errors,
    );
    expect(errors.map((e) => e.field)).toEqual([
      'channels.rules[1].medium',
      'channels.rules[1].channel',
      'channels.rules[2].colour',
      'channels.rules[2].source_category[0]',
    ]);
    expect(s.ignored_referrers).toEqual(['paypal.com']);
    const mine = new ChannelClassifier(s.rules.slice(0, 1));
    const facts = channelFacts(
      {
        kind: 'visit',
        campaign_id: null,
        traffic_source: { source: 'mailchimp', medium: 'Email', campaign: 'News-May', by: 'utm' },
      },
      undefined,
    );
    expect(mine.channelOf(facts)).toBe('Newsletter');
    expect(mine.channelOf({ ...facts, campaign: 'promo' })).toBe(UNASSIGNED);
  });
});
