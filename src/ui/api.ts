/** Thrown for a non-2xx answer; `status` 401 means the session ended. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Calls the admin API with the session cookie. Every call carries X-Pixeltrail-UI, which the
 * server requires of cookie-authenticated writes (see admin-auth.ts).
 */
export async function api<T = unknown>(path: string, method = 'GET', body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: {
      'x-pixeltrail-ui': '1',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const fields = (json?.errors ?? [])
      .map((e: { field: string; message: string }) => `${e.field} ${e.message}`)
      .join('; ');
    throw new ApiError(
      res.status,
      `${json?.error?.message ?? res.statusText}${fields ? ` (${fields})` : ''}`,
    );
  }
  return json as T;
}

/** A query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | undefined>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') u.set(k, String(v));
  return u.toString();
}
