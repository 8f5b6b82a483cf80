/**
 * First-party storage: a cookie on the page's own host, mirrored to localStorage so a value
 * survives when cookies are blocked or cleared.
 */

const DAY_S = 86_400;

/** Reads `name` from the cookie, else from localStorage while it has not expired. */
export function readStored(name: string): string | undefined {
  const cookie = document.cookie.match(`(?:^|; )${name}=([^;]*)`);
  if (cookie) return decodeURIComponent(cookie[1]);
  try {
    const [value, expiresMs] = JSON.parse(localStorage.getItem(name) || '[]') as [string, number];
    if (expiresMs > Date.now()) return value;
  } catch {
    // Storage disabled (sandboxed iframe, some private modes) or a foreign value: nothing stored.
  }
  return undefined;
}

/** Writes `name` to the cookie and to localStorage, both expiring in `days` days. */
export function writeStored(name: string, value: string, days: number): void {
  document.cookie =
    `${name}=${encodeURIComponent(value)}; max-age=${days * DAY_S}; path=/; SameSite=Lax` +
    (location.protocol === 'https:' ? '; Secure' : '');
  try {
    localStorage.setItem(name, JSON.stringify([value, Date.now() + days * DAY_S * 1000]));
  } catch {
    // Storage disabled: the cookie alone carries the value.
  }
}

/** Forgets `name` in the cookie and in localStorage (consent withdrawn). */
export function clearStored(name: string): void {
  document.cookie = `${name}=; max-age=0; path=/`;
  try {
    localStorage.removeItem(name);
  } catch {
    // Storage disabled: nothing was kept there.
  }
}
