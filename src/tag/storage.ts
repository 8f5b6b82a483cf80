/**
 * First-party storage: a cookie on the page's own host, mirrored to localStorage so a value
 * survives when cookies are blocked or cleared. The cookies are read once per page (a read
 * after a write asks the browser again): with the asynchronous Cookie Store API where the
 * browser has it (a first visit's `document.cookie` read makes the page wait for the browser
 * process, 3–20 ms on a loaded machine), else `document.cookie`; localStorage only for a key
 * the cookie lacks. Cookies are written with `document.cookie`, which does not wait.
 * Writes are seen at once by every read and reach the cookie and localStorage when the page
 * is idle or left (idle.ts). Clearing is immediate: a withdrawal of consent must not wait.
 */
import { whenIdle } from './idle.js';

const DAY_S = 86_400;

/** What the tag reads of the Cookie Store API (secure contexts: https, localhost). */
interface CookieStore {
  getAll(): Promise<{ name: string; value: string }[]>;
}

/**
 * The page's cookies by name, read once. A map, not a search of the cookie string per name: a
 * first visit asks for ~25 names, and a regular expression built for each cost 0.8 ms in all
 * (median of 12 first visits in Chromium, load 6), the map 0.05 ms.
 */
let cookies: Map<string, string> | undefined;
/** This page's values, written or cleared (''): they win over what was stored before. */
const mine = new Map<string, string>();
let toWrite: [string, string, number][] = [];

function inCookie(name: string): string | undefined {
  // `name=value` split at its first `=` only: a value may hold more. Reversed: of two cookies
  // of one name, the first listed (the longest path, then the oldest) wins.
  cookies ??= new Map(
    document.cookie
      .split('; ')
      .map((c) => c.split(/=(.*)/) as [string, string])
      .reverse(),
  );
  return cookies.get(name);
}

/**
 * Starts reading the cookies without making the page wait, where the browser can; the idle
 * work after it waits for them (idle.ts). A page left before they come reads `document.cookie`.
 */
export function loadStored(): Promise<void> | undefined {
  // Looked up here, at idle time: the first `window.cookieStore` builds it (about a ms).
  // Refused (an opaque origin), throwing (idle.ts catches it) or slower than idle.ts waits
  // for a read: `document.cookie` is read when the ids are.
  return (window as { cookieStore?: CookieStore }).cookieStore?.getAll().then(
    (all) => {
      cookies ??= new Map(all.map((c) => [c.name, c.value]).reverse() as [string, string][]);
    },
    () => undefined,
  );
}

/** Reads `name`: this page's value, else the cookie, else localStorage while not expired. */
export function readStored(name: string): string | undefined {
  if (mine.has(name)) return mine.get(name) || undefined;
  const cookie = inCookie(name);
  if (cookie) return decodeURIComponent(cookie);
  try {
    const [value, expiresMs] = JSON.parse(localStorage.getItem(name) || '[]') as [string, number];
    if (expiresMs > Date.now()) return value;
  } catch {
    // Storage disabled (sandboxed iframe, some private modes) or a foreign value: nothing stored.
  }
  return undefined;
}

/** Writes this page's values to the cookie and localStorage (idle time, or the page is left). */
export function flushStored(): void {
  for (const [name, value, days] of toWrite.splice(0)) {
    document.cookie =
      `${name}=${encodeURIComponent(value)}; max-age=${days * DAY_S}; path=/; SameSite=Lax` +
      (location.protocol === 'https:' ? '; Secure' : '');
    try {
      localStorage.setItem(name, JSON.stringify([value, Date.now() + days * DAY_S * 1000]));
    } catch {
      // Storage disabled: the cookie alone carries the value.
    }
  }
}

/** Stores `name` in the cookie and localStorage, both expiring in `days` days. */
export function writeStored(name: string, value: string, days: number): void {
  if (!toWrite.length) whenIdle(flushStored);
  mine.set(name, value);
  toWrite.push([name, value, days]);
}

/** Forgets `name` in the cookie and in localStorage (consent withdrawn), at once. */
export function clearStored(name: string): void {
  toWrite = toWrite.filter((w) => w[0] !== name);
  mine.set(name, '');
  // Written whether or not the cookie is there: reading it here, at init under a denied
  // default, would make the page wait and fix this page's cookies before any platform set its.
  try {
    document.cookie = `${name}=; max-age=0; path=/`;
    localStorage.removeItem(name);
  } catch {
    // Cookies or storage disabled (a sandboxed iframe): nothing was kept there.
  }
}
