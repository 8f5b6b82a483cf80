import { describe, expect, it } from 'vitest';
import { COVERAGE_MS, CopySources } from './copy-sources.js';

describe('CopySources (which side sends an event name)', () => {
  it('expects a browser copy only where the tag sends that event name', () => {
    const c = new CopySources();
    expect(c.expectsOtherCopy('e1', 'Purchase', 'server', 1_000)).toBe(false);
    c.note('e1', 'Purchase', 'tag', 1_000);
    expect(c.expectsOtherCopy('e1', 'Purchase', 'server', 2_000)).toBe(true);
    // Another name, another environment, or the same side: nothing to wait for.
    expect(c.expectsOtherCopy('e1', 'Lead', 'server', 2_000)).toBe(false);
    expect(c.expectsOtherCopy('e2', 'Purchase', 'server', 2_000)).toBe(false);
    expect(c.expectsOtherCopy('e1', 'Purchase', 'tag', 2_000)).toBe(false);
  });

  it('counts the no-JS pixel as the browser, and forgets a side silent for a week', () => {
    const c = new CopySources();
    c.note('e1', 'Purchase', 'pixel', 0);
    c.note('e1', 'Purchase', 'server', 0);
    expect(c.expectsOtherCopy('e1', 'Purchase', 'server', COVERAGE_MS)).toBe(true);
    expect(c.expectsOtherCopy('e1', 'Purchase', 'tag', COVERAGE_MS)).toBe(true);
    expect(c.expectsOtherCopy('e1', 'Purchase', 'server', COVERAGE_MS + 1)).toBe(false);
    // An older sighting never moves the last one back.
    c.note('e1', 'Purchase', 'tag', 10);
    c.note('e1', 'Purchase', 'tag', 5);
    expect(c.expectsOtherCopy('e1', 'Purchase', 'server', COVERAGE_MS + 10)).toBe(true);
  });
});
