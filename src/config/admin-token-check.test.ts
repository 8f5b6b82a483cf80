import { describe, expect, it } from 'vitest';
import { adminTokenVerdict, listensOnLoopbackOnly } from './admin-token-check.js';

const STRONG = 'k3J9-vQ2x_Lm8Pz4Rt6Y';
const at = (host: string, admin_token: string, previous_admin_tokens: string[] = []) =>
  adminTokenVerdict({ host, admin_token, previous_admin_tokens });

describe('admin token strength', () => {
  it('W01 beyond loopback a token shorter than 16 characters is refused, naming the fix', () => {
    const v = at('0.0.0.0', 'short-token');
    expect(v.refuse).toMatch(/the admin token is shorter than 16 characters/);
    expect(v.refuse).toMatch(/openssl rand/);
    expect(v.refuse).toMatch(/HOST=127\.0\.0\.1/);
  });

  it("W02 the README's example value is refused whatever its length", () => {
    expect(at('10.0.0.5', 'change-me').refuse).toMatch(/example value/);
  });

  it('W03 on 127.0.0.1, ::1 and localhost a weak token is only warned about', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost', 'LOCALHOST']) {
      const v = at(host, 'adm');
      expect(v.refuse).toBeNull();
      expect(v.warn).toMatch(/the admin token is shorter/);
    }
  });

  it('W04 a weak previous admin token counts like the current one', () => {
    expect(at('0.0.0.0', STRONG, ['old']).refuse).toMatch(/previous admin token 1 is shorter/);
  });

  it('W05 a strong token is neither refused nor warned about', () => {
    expect(at('0.0.0.0', STRONG)).toEqual({ refuse: null, warn: null });
    expect(listensOnLoopbackOnly('127.0.0.2')).toBe(false);
  });
});
