/** Thrown for a non-2xx answer; `status` 401 means the session ended. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The fields a 400 named, each with what is wrong with it. */
    readonly fields: Array<{ field: string; message: string }> = [],
  ) {
    super(message);
  }
}

/** The session's CSRF token, given at login and by GET /api/session; kept in memory only. */
let csrf = '';

/**
 * Calls the admin API with the session cookie. Writes carry the session's CSRF token, which
 * the server requires of cookie-authenticated writes (see admin-session.ts).
 */
export async function api<T = unknown>(path: string, method = 'GET', body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      ...(csrf ? { 'x-csrf-token': csrf } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const errors: Array<{ field: string; message: string }> = json?.errors ?? [];
    const fields = errors.map((e) => `${e.field} ${e.message}`).join('; ');
    throw new ApiError(
      res.status,
      `${json?.error?.message ?? res.statusText}${fields ? ` (${fields})` : ''}`,
      errors,
    );
  }
  if (path === '/api/session' && typeof json?.csrf_token === 'string') csrf = json.csrf_token;
  return json as T;
}

/** A query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') u.set(k, String(v));
  return u.toString();
}

/** Posts a file as it is (a CSV import) with the session's CSRF token; JSON answer. */
export async function upload<T = unknown>(path: string, file: Blob, type: string): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { ...(csrf ? { 'x-csrf-token': csrf } : {}), 'content-type': type },
    body: file,
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok && !json?.rows) {
    const errors: Array<{ field: string; message: string }> = json?.errors ?? [];
    throw new ApiError(res.status, json?.error?.message ?? res.statusText, errors);
  }
  return json as T;
}
