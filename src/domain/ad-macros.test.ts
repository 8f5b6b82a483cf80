import { describe, expect, it } from 'vitest';
import { expectLinearCpu } from '../../test/helpers/cpu-time.js';
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

  it('AM04 detection is linear: 256 KB of near-macros costs about 4× what 64 KB does', async () => {
    // Pixel parameters are capped at 256 characters; this proves the bound does not matter.
    const SIZE = 1 << 18;
    const worst: Array<(n: number) => string> = [
      (n) => `{${'a'.repeat(n)}`,
      (n) => '{a'.repeat(n / 2),
      (n) => '[a_'.repeat(n / 3),
      (n) => '%%ab '.repeat(n / 4),
      (n) => '%a'.repeat(n / 2),
      (n) => `__${'a_'.repeat(n / 2)}`,
      (n) => '___a-'.repeat(n / 5),
      (n) => '__a-'.repeat(n / 4),
      (n) => `${'_'.repeat(n)}x`,
    ];
    for (const make of worst) {
      const v = make(SIZE);
      expect({ prefix: v.slice(0, 8), found: isUnexpandedMacro(v) }).toEqual({
        prefix: v.slice(0, 8),
        found: false,
      });
      await expectLinearCpu(`${v.slice(0, 8)}…`, make, isUnexpandedMacro, SIZE);
    }
  });
});
