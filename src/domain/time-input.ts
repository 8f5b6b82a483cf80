/** Times past the end of year 9999 are refused: dates past it have no ISO form to report. */
export const MAX_TIME_INPUT_MS = Date.UTC(10_000, 0, 1);

/**
 * A time as people and scripts type it — an ISO 8601 time or date, or Unix seconds (digits
 * only) — in Unix ms; null when it is neither, or falls before 1970 or after 9999. The one
 * reading of `since`, `from`, `to` and the CLI's time options.
 */
export function timeInputMs(text: string): number | null {
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text);
  return Number.isFinite(ms) && ms >= 0 && ms < MAX_TIME_INPUT_MS ? ms : null;
}
