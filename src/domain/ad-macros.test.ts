import { describe, expect, it } from 'vitest';
import { cheapestCpuMs } from '../../test/helpers/cpu-time.js';
import { isUnexpandedMacro, macroWarning } from './ad-macros.js';

describe('unexpanded ad-server macros', () => {
  it.each([
    ['{imp_id}'],
    ['{{ad.id}}'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the macro's literal text is the input
    ['${CAMPAIGN_ID}'],
    ['[IMP_ID]'],
    ['[timestamp]'],
    ['%%CACHEBUSTER%%'],
    ['%%PATTERN:placement%%'],
    ['__IMP_ID__'],
    ['__CID__'],
    ['%ecid!'],
    ['%eaid!'],
    ['imp-{imp_id}'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the macro's literal text is the input
    ['c_${CAMPAIGN_ID}_x'],
  ])('AM01 %s is an unexpanded macro', (value) => {
    expect(isUnexpandedMacro(value)).toBe(true);
  });

  it.each([
    ['IMP-123'],
    ['a_b_c'],
    ['9f1c2d3e-0000-4abc-8def-1234567890ab'],
    ['_leading_and_trailing_'],
    ['50%'],
    ['{}'],
    ['[]'],
    ['%%'],
    ['____'],
    ['{ not a macro }'],
    ['a{b'],
    ['x]y[z'],
    ['%20encoded'],
    ['€-ünïcode'],
  ])('AM02 %s is an id, not a macro', (value) => {
    expect(isUnexpandedMacro(value)).toBe(false);
  });

  it('AM03 the warning names the parameter', () => {
    expect(macroWarning('imp_id')).toBe('unexpanded_macro:imp_id');
  });

  it('AM04 detection is linear: 256 KB of near-macros takes well under a second of CPU', async () => {
    // Pixel parameters are capped at 256 characters; this proves the bound does not matter.
    const SIZE = 1 << 18;
    const worst = [
      `{${'a'.repeat(SIZE)}`,
      '{a'.repeat(SIZE / 2),
      '[a_'.repeat(SIZE / 3),
      '%%ab '.repeat(SIZE / 4),
      '%a'.repeat(SIZE / 2),
      `__${'a_'.repeat(SIZE / 2)}`,
      '___a-'.repeat(SIZE / 5),
      '__a-'.repeat(SIZE / 4),
      `${'_'.repeat(SIZE)}x`,
    ];
    for (const v of worst) {
      let found = true;
      const ms = await cheapestCpuMs(() => {
        found = isUnexpandedMacro(v);
      });
      expect({ prefix: v.slice(0, 8), found }).toEqual({ prefix: v.slice(0, 8), found: false });
      // A quadratic scan of 256 KB would take minutes; linear takes a few ms, tens on a
      // loaded box: the bound leaves it room.
      expect(ms, `CPU ms for ${v.slice(0, 8)}…`).toBeLessThan(1000);
    }
  });
});
