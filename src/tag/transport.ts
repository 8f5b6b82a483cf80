/**
 * Sends events to the collector's `POST /e`. Events tracked in the same task go out together
 * as one `{"events":[…]}` request, flushed in a microtask so a page that navigates right after
 * tracking still sends them.
 */

/** Split batches above this size: sendBeacon and keepalive fetch share a 64 KB in-flight cap. */
const MAX_BATCH_CHARS = 16_000;

/** Returns a function queueing one event for `url`. */
export function createSender(url: string): (event: object) => void {
  let queued: string[] = [];
  const flush = () => {
    let batch: string[] = [];
    let chars = 0;
    for (const json of queued) {
      if (batch.length && chars + json.length > MAX_BATCH_CHARS) {
        post(url, batch);
        batch = [];
        chars = 0;
      }
      batch.push(json);
      chars += json.length;
    }
    queued = [];
    post(url, batch);
  };
  return (event) => {
    if (!queued.length) Promise.resolve().then(flush);
    queued.push(JSON.stringify(event));
  };
}

/**
 * sendBeacon with a `text/plain` body (a CORS-safelisted type, so no preflight); `fetch` with
 * keepalive when sendBeacon is missing, throws, or refuses the payload (returns false).
 */
function post(url: string, events: string[]): void {
  const body = `{"events":[${events.join(',')}]}`;
  try {
    if (navigator.sendBeacon(url, new Blob([body], { type: 'text/plain' }))) return;
  } catch {
    // No sendBeacon in this browser: fall through to fetch.
  }
  fetch(url, {
    method: 'POST',
    body,
    keepalive: true,
    credentials: 'include',
    headers: { 'content-type': 'text/plain' },
  }).catch(() => {
    // Offline or blocked: a tracking call never surfaces an error on the page.
  });
}
