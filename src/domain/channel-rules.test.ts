import { describe, expect, it } from 'vitest';
import {
  CHANNEL_TOUCH_KINDS,
  ChannelClassifier,
  type ChannelFacts,
  type ChannelRule,
  DEFAULT_CHANNEL_RULES,
  MAX_KNOWN_FACTS,
} from './channel-rules.js';
import { SOURCE_CATEGORIES } from './source-categories.js';

/** A deterministic pseudo-random sequence (mulberry32), so a failure replays. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('ChannelClassifier', () => {
  it('CC01 a classifier that has classified thousands of touches answers each as a new one does', () => {
    const next = random(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
    const sources = ['google', 'facebook', 'newsletter', 'bing', '(direct)', 'sms', 'x'];
    const media = ['cpc', 'organic', 'email', 'display', '(none)', 'social', 'paid_video', 'cpm'];
    const campaigns = [null, 'spring-shop', 'cross-network-1', 'summer', 'x'];
    // More distinct facts than the classifier remembers, so it also empties its memory.
    const facts: ChannelFacts[] = Array.from({ length: 2 * MAX_KNOWN_FACTS }, (_, i) => ({
      touch: pick(CHANNEL_TOUCH_KINDS),
      source: pick(sources),
      medium: pick(media),
      campaign: next() < 0.5 ? pick(campaigns) : `c${i}`,
      source_category: next() < 0.5 ? null : pick(SOURCE_CATEGORIES),
      click_id: next() < 0.8 ? null : 'gclid',
    }));
    // The defaults, and rules on the facts they do not read (the click id, the touch's kind).
    const own: ChannelRule[] = [
      { channel: 'Tagged clicks', click_id: ['gclid'], touch: ['click'] },
      { channel: 'Seen', touch: ['impression'], source_category: ['video'] },
      ...DEFAULT_CHANNEL_RULES,
    ];
    for (const rules of [DEFAULT_CHANNEL_RULES, own]) {
      const longLived = new ChannelClassifier(rules);
      let most = 0;
      const first = facts.map((f) => {
        const c = longLived.channelOf(f);
        most = Math.max(most, longLived.remembered);
        return c;
      });
      // It filled its memory and emptied it, never holding more than its bound.
      expect(most).toBe(MAX_KNOWN_FACTS);
      expect(longLived.remembered).toBeLessThan(MAX_KNOWN_FACTS);
      const again = facts.map((f) => longLived.channelOf(f));
      const fresh = facts.map((f) => new ChannelClassifier(rules).channelOf(f));
      expect(first).toEqual(fresh);
      expect(again).toEqual(fresh);
      // The sample reaches most of the channels, so the comparison means something.
      expect(new Set(fresh).size).toBeGreaterThanOrEqual(8);
    }
  });

  it('CC02 facts whose texts would run together if joined still get their own channels', () => {
    const rules: ChannelRule[] = [
      { channel: 'A', source: ['a:b'], medium: ['c'] },
      { channel: 'B', source: ['a'], medium: ['b:c'] },
      { channel: 'C', source: ['s'], campaign: ['-1:'] },
    ];
    const c = new ChannelClassifier(rules);
    const base: ChannelFacts = {
      touch: 'click',
      source: '',
      medium: '',
      campaign: null,
      source_category: null,
      click_id: null,
    };
    expect(c.channelOf({ ...base, source: 'a:b', medium: 'c' })).toBe('A');
    expect(c.channelOf({ ...base, source: 'a', medium: 'b:c' })).toBe('B');
    // A campaign written as the mark of no campaign is not taken for none, nor none for it.
    expect(c.channelOf({ ...base, source: 's', campaign: '-1:' })).toBe('C');
    expect(c.channelOf({ ...base, source: 's', campaign: null })).toBe('Unassigned');
    expect(c.channelOf({ ...base, source: 's', campaign: '-1:' })).toBe('C');
  });
});
