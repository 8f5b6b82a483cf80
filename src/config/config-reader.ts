import { parseDurationMs } from '../domain/duration.js';
import type { FieldError } from '../domain/validation-error.js';

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads typed fields of the config file, each with its default; a bad field is named in
 * `errors` by its path and replaced by the default, so that every error is found in one read.
 */
export class Reader {
  readonly errors: FieldError[] = [];

  str(o: Obj, key: string, path: string, fallback?: string): string {
    const v = o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || v === '') {
      this.errors.push({ field: path, message: 'must be a non-empty string' });
      return '';
    }
    return v;
  }

  id(o: Obj, key: string, path: string): string {
    const v = this.str(o, key, path);
    if (v && !ID_RE.test(v))
      this.errors.push({ field: path, message: 'must be 1-64 of A-Z a-z 0-9 _ . -' });
    return v;
  }

  list(o: Obj, key: string, path: string, fallback: string[]): string[] {
    const v = o[key];
    if (v === undefined) return fallback;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      this.errors.push({ field: path, message: 'must be a list of strings' });
      return fallback;
    }
    return v as string[];
  }

  bool(o: Obj, key: string, path: string, fallback: boolean): boolean {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.errors.push({ field: path, message: 'must be true or false' });
    return v === true;
  }

  duration(o: Obj, key: string, path: string, fallback: string): number {
    const v = o[key] ?? fallback;
    const ms = typeof v === 'string' ? parseDurationMs(v) : null;
    if (ms === null) {
      this.errors.push({ field: path, message: 'must be a duration such as 30s, 15m, 12h, 7d' });
      return 0;
    }
    return ms;
  }

  oneOf<T extends string>(
    o: Obj,
    key: string,
    path: string,
    allowed: readonly T[],
    fallback: T,
  ): T {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !allowed.includes(v as T)) {
      this.errors.push({ field: path, message: `must be one of ${allowed.join(', ')}` });
      return fallback;
    }
    return v as T;
  }

  count(o: Obj, key: string, path: string, fallback: number): number {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      this.errors.push({ field: path, message: 'must be a whole number ≥ 0' });
      return fallback;
    }
    return v;
  }

  int(o: Obj, key: string, path: string, fallback: number): number {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      this.errors.push({ field: path, message: 'must be a positive integer' });
      return fallback;
    }
    return v;
  }
}
