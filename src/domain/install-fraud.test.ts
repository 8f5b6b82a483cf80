import { describe, expect, it } from 'vitest';
import { INSTALL_FRAUD_DEFAULTS, suspiciousInstallReason } from './install-fraud.js';

// Which user agents make an install suspicious (issue 25 §4, review finding 14): every bot
// isbot knows is one, Google's smartphone crawlers included, while the HTTP stacks an app's
// SDK posts from on a phone (OkHttp, Dalvik, CFNetwork) are not.
const judge = (user_agent: string) =>
  suspiciousInstallReason({ user: { user_agent } }, undefined, INSTALL_FRAUD_DEFAULTS);

const BOTS = {
  'Googlebot Smartphone':
    'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.6998.165 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'AdsBot-Google-Mobile':
    'Mozilla/5.0 (iPhone; CPU iPhone OS 14_7_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.1.2 Mobile/15E148 Safari/604.1 (compatible; AdsBot-Google-Mobile; +http://www.google.com/mobile/adsbot.html)',
  'Bingbot mobile':
    'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.1938.76 Mobile Safari/537.36 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'a crawler behind an app stack':
    'ShopApp/1 CFNetwork/1485 Darwin/23.1.0 (compatible; Googlebot/2.1)',
  'an HTTP library': 'python-requests/2.31.0',
};

const PHONES = {
  'OkHttp (an Android SDK)': 'okhttp/4.12.0',
  'an Android app naming itself before OkHttp':
    'com.example.shop/3.1 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230901.001) okhttp/4.9.3',
  'Dalvik (Android HttpURLConnection)':
    'Dalvik/2.1.0 (Linux; U; Android 13; SM-S911B Build/TP1A.220624.014)',
  'CFNetwork (an iOS URLSession)': 'CFNetwork/1410 Darwin/22.6.0',
  'an iOS app over CFNetwork': 'ShopApp/3.1.2 CFNetwork/1410.0.3 Darwin/22.6.0',
  'an iOS app agent': 'ShopApp/5.2.1 (iPhone; iOS 17.4; Scale/3.00)',
  'an in-app web view':
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
};

describe('suspicious installs by user agent', () => {
  it.each(Object.entries(BOTS))('IFU01 %s is a bot', (_, ua) => {
    expect(judge(ua)).toMatch(/^suspicious install: user agent .* is a bot/);
  });

  it.each(Object.entries(PHONES))('IFU02 %s is a phone', (_, ua) => {
    expect(judge(ua)).toBeNull();
  });
});
