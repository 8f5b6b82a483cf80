import type { FieldError } from './validation-error.js';

// The small readers every part of event validation uses: objects, strings that PostgreSQL can
// store, and the NUL refusal.

/** Longest id or short string field accepted. */
export const MAX_ID_CHARS = 256;

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * PostgreSQL's text cannot hold U+0000: one such id reaching a commit would fail the whole
 * batch, and with it the other requests committed in it. It is refused here, by name.
 */
export const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

export function optString(
  o: Obj,
  key: string,
  path: string,
  errors: FieldError[],
): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') {
    errors.push({ field: path, message: 'must be a string' });
    return undefined;
  }
  if (v.length > MAX_ID_CHARS) {
    errors.push({ field: path, message: `must be at most ${MAX_ID_CHARS} characters` });
    return undefined;
  }
  if (v.includes('\u0000')) {
    errors.push({ field: path, message: NUL_MESSAGE });
    return undefined;
  }
  return wellFormed(v);
}

/** ES2024's well-formed string methods (Node 20 has them; the TypeScript lib here is ES2022). */
type WellFormedString = string & { isWellFormed(): boolean; toWellFormed(): string };

/**
 * Lone surrogates as U+FFFD, which is what a store's UTF-8 makes of them anyway: two ids
 * differing only there are then one id here too, as dedup must see them (else one batch
 * claims the same stored key twice). `isWellFormed` first: nearly every string is, and the
 * check allocates nothing, where a replace with a look-behind regex cost a fifth of an
 * event's validation.
 */
export function wellFormed(v: string): string {
  const w = v as WellFormedString;
  return w.isWellFormed() ? v : w.toWellFormed();
}
