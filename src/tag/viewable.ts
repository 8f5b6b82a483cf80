/**
 * The viewability tag, served as `/v.js` and inlined in `/v.html` (issue 24). In an ad:
 * `<script src="https://HOST/v.js" data-env="…" data-dest="…" data-imp="…" async>`, or the
 * same ids in its query (`v.js?env_id=…`) for ad servers that take a tracker URL, or in the
 * query of `/v.html` for those that take only an iframe. It sends the served impression at
 * once (`served=1`: the server records the touch exactly as `/i` does, `served=0` when an
 * image pixel already did) with whether it can measure, then at most one more signal: the
 * MRC verdict `viewable=1` when it is met, or, when the page goes away first, `viewable=0` with
 * the largest share seen. Two requests per impression at most, by sendBeacon. It stores
 * nothing in the browser (the server sets its cookie only with consent, as `/i` does) and
 * never throws into the ad's page.
 */
import { viewMeter } from './view-meter.js';

/** Short data-attribute names and the parameters they stand for. */
const ALIAS: Record<string, string> = {
  env: 'env_id',
  dest: 'dest_id',
  imp: 'imp_id',
  campaign: 'campaign_id',
  creative: 'creative_id',
  placement: 'placement_id',
  user: 'user_id',
};

const guard =
  <A extends unknown[]>(fn: (...a: A) => void) =>
  (...a: A) => {
    try {
      fn(...a);
    } catch (_) {
      // The ad's page must never see our errors.
    }
  };

guard(() => {
  const w = window;
  const d = document;
  const script = d.currentScript as HTMLScriptElement | null;
  // `v.js?…` or, inlined in v.html, the frame's own URL.
  const src = new URL(script?.src || location.href);
  const p: Record<string, string> = {};
  src.searchParams.forEach((v, k) => {
    p[k] = v;
  });
  const data = script ? script.dataset : {};
  for (const k in data) {
    p[ALIAS[k] || k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = data[k] as string;
  }
  const off = (v: string | undefined) => v === '0' || v === 'false';
  const video = (p.video !== undefined && !off(p.video)) || p.format === 'video';
  const served = !off(p.served);
  const selector = p.target;
  delete p.target;
  delete p.served;
  delete p.video;
  delete p.format;
  if (video) p.video = '1';
  const url = `${new URL('v', src).href}?${new URLSearchParams(p)}&`;
  const send = (q: string) => {
    const to = url + q;
    if (!navigator.sendBeacon?.(to)) new Image().src = to;
  };

  // What to measure: the element named by data-target, else the element holding the script,
  // else (inside the ad's iframe) the frame itself.
  let el: Element | null = selector ? d.querySelector(selector) : null;
  const parent = script?.parentElement;
  if (!el && parent && parent !== d.body && parent !== d.head) el = parent;
  if (!el && w !== w.top) {
    // The frame's viewport: an element that fills it, unseen and unclickable.
    el = d.createElement('div');
    (el as HTMLElement).style.cssText =
      'position:fixed;top:0;left:0;width:100%;height:100%;visibility:hidden;pointer-events:none';
    d.documentElement.appendChild(el);
  }
  let final = false;
  const meter = viewMeter(
    video ? 2000 : 1000,
    () => Date.now(),
    (fn, ms) => {
      const t = setTimeout(guard(fn), ms);
      return () => clearTimeout(t);
    },
    (ttv, max) => {
      final = true;
      send(`viewable=1&ttv_ms=${Math.round(ttv)}&max_share=${max.toFixed(2)}`);
    },
  );
  const thresholds: number[] = [];
  for (let i = 0; i <= 10; i++) thresholds.push(i / 10);
  // Measurable only once the observer watches: one missing, or throwing, says so.
  let measurable = false;
  try {
    new IntersectionObserver(
      guard((entries: IntersectionObserverEntry[]) => {
        const e = entries[entries.length - 1];
        meter.share(e.isIntersecting ? e.intersectionRatio : 0);
      }),
      { threshold: thresholds },
    ).observe(el as Element);
    measurable = true;
  } catch (_) {
    // Not measurable: said below.
  }
  send(`${served ? 'served=1&' : ''}measurable=${measurable ? 1 : 0}`);
  if (!measurable) return;
  meter.hidden(d.hidden);
  d.addEventListener(
    'visibilitychange',
    guard(() => meter.hidden(d.hidden)),
  );
  w.addEventListener(
    'pagehide',
    guard(() => {
      if (final) return;
      final = true;
      send(`measurable=1&viewable=0&max_share=${meter.max().toFixed(2)}`);
    }),
  );
})();
