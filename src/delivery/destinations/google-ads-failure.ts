// Google Ads API errors in REST form: a google.rpc.Status whose `details` hold a
// GoogleAdsFailure (https://developers.google.com/google-ads/api/docs/best-practices/partial-failures,
// https://developers.google.com/google-ads/api/reference/rpc/latest/GoogleAdsError). The same
// shape comes back as the `error` of a failed call and as the `partialFailureError` of a 200.

/** One GoogleAdsError: its code (`conversionUploadError.EXPIRED_EVENT`), the row it names. */
export interface GoogleAdsError {
  code: string | null;
  message: string;
  /** Index into the request's `conversions[]`, when the error names a row. */
  index: number | null;
  /** `quotaErrorDetails.retryDelay`, in seconds. */
  retryDelayS: number | null;
}

/** A google.rpc.Status as read from a response body. */
export interface GoogleStatus {
  /** The canonical code name: UNAUTHENTICATED, RESOURCE_EXHAUSTED, INVALID_ARGUMENT… */
  status: string | null;
  message: string | null;
  errors: GoogleAdsError[];
  /** False when the body was cut short and only part of it could be read. */
  complete: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseDurationS(v: unknown): number | null {
  // protobuf Duration in JSON: "30s", "1.5s".
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(v) : null;
  return m ? Number(m[1]) : null;
}

function rowIndex(location: unknown): number | null {
  const path = isObj(location) ? location.fieldPathElements : undefined;
  if (!Array.isArray(path)) return null;
  const el = path.find((p) => isObj(p) && p.fieldName === 'conversions');
  const i = isObj(el) ? Number(el.index) : Number.NaN;
  return Number.isInteger(i) && i >= 0 ? i : null;
}

function fromJson(status: Obj): GoogleStatus {
  const errors: GoogleAdsError[] = [];
  for (const d of Array.isArray(status.details) ? status.details : []) {
    for (const e of isObj(d) && Array.isArray(d.errors) ? d.errors : []) {
      if (!isObj(e)) continue;
      const [k, v] = isObj(e.errorCode) ? (Object.entries(e.errorCode)[0] ?? []) : [];
      const quota = isObj(e.details) && isObj(e.details.quotaErrorDetails) ? e.details : null;
      errors.push({
        code: k ? `${k}.${String(v)}` : null,
        message: typeof e.message === 'string' ? e.message : '',
        index: rowIndex(e.location),
        retryDelayS: quota ? parseDurationS((quota.quotaErrorDetails as Obj).retryDelay) : null,
      });
    }
  }
  return {
    status: typeof status.status === 'string' ? status.status : null,
    message: typeof status.message === 'string' ? status.message : null,
    errors,
    complete: true,
  };
}

const STRING_RE = '"((?:[^"\\\\]|\\\\.)*)"';

function jsonString(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** Reads what it can of a body cut short (the worker keeps only an excerpt). */
function fromText(text: string, at: number): GoogleStatus {
  const rest = text.slice(at);
  const [head, ...chunks] = rest.split(/"errorCode"\s*:/);
  const errors = chunks.map((chunk) => {
    const code = /^\s*\{\s*"(\w+)"\s*:\s*"(\w+)"/.exec(chunk);
    const index = /"fieldName"\s*:\s*"conversions"\s*,\s*"index"\s*:\s*"?(\d+)/.exec(chunk);
    const delay = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?s)"/.exec(chunk);
    return {
      code: code ? `${code[1]}.${code[2]}` : null,
      message: jsonString(new RegExp(`"message"\\s*:\\s*${STRING_RE}`).exec(chunk)?.[1]) ?? '',
      index: index ? Number(index[1]) : null,
      retryDelayS: parseDurationS(delay?.[1]),
    };
  });
  return {
    status: /"status"\s*:\s*"([A-Z_]+)"/.exec(head)?.[1] ?? null,
    message: jsonString(new RegExp(`"message"\\s*:\\s*${STRING_RE}`).exec(head)?.[1]),
    errors,
    complete: false,
  };
}

/**
 * The Status under `key` (`error` for a failed call, `partialFailureError` for per-row
 * failures in a 200), or null when the body has none. Tolerates a body cut short: what can
 * be read is returned with `complete: false`.
 */
export function readGoogleStatus(
  body: string,
  key: 'error' | 'partialFailureError',
): GoogleStatus | null {
  try {
    const parsed: unknown = JSON.parse(body);
    const status = isObj(parsed) ? parsed[key] : undefined;
    return isObj(status) ? fromJson(status) : null;
  } catch {
    const at = body.search(new RegExp(`"${key}"\\s*:`));
    return at < 0 ? null : fromText(body, at);
  }
}

/**
 * Rows a Status message names (`…, at conversions[1].gclid`): how a partial failure can
 * still be placed when its `details` were cut off.
 */
export function rowsNamedIn(message: string | null): number[] {
  const rows = [...(message ?? '').matchAll(/\bconversions\[(\d+)\]/g)].map((m) => Number(m[1]));
  return [...new Set(rows)];
}

/** `conversionUploadError.EXPIRED_EVENT: message` for the delivery log. */
export function describeError(e: GoogleAdsError): string {
  const msg = e.message.replace(/\s+/g, ' ').trim();
  if (!e.code) return msg || 'unknown error';
  return msg ? `${e.code}: ${msg}` : e.code;
}
