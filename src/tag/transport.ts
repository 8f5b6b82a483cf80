/**
 * Sends events to the collector's `POST /e`. Events tracked before the page is next idle go out
 * together as one `{"events":[…]}` request, after the ids they carry are stored (idle.ts): a
 * page that navigates right after tracking still sends them, on `pagehide`.
 */
import { whenIdle } from './idle.js';
import { flushStored } from './storage.js';

/** Split batches above this size: sendBeacon and keepalive fetch share a 64 KB in-flight cap. */
const MAX_BATCH_CHARS = 16_000;

/**
 * Returns a function queueing one event for `url`, given as what writes it out; `ready`
 * completes the queued events (their stored ids) just before they are written and sent.
 */
export function createSender(url: string, ready: () => void): (event: () => string) => void {
  let queued: (() => string)[] = [];
  const flush = () => {
    ready();
    flushStored();
    let batch: string[] = [];
    let chars = 0;
    for (const event of queued) {
      const json = event();
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
    if (!queued.length) whenIdle(flush);
    queued.push(event);
  };
}

/**
 * sendBeacon with a string body, sent as `text/plain;charset=UTF-8` (a CORS-safelisted type,
 * so no preflight; a Blob cost the page as much again); `fetch` with keepalive when
 * sendBeacon is missing, throws, or refuses the payload (returns false), whose string body
 * goes as `text/plain;charset=UTF-8` too.
 */
function post(url: string, events: string[]): void {
  const body = `{"events":[${events.join(',')}]}`;
  try {
    if (navigator.sendBeacon(url, body)) return;
  } catch {
    // No sendBeacon in this browser: fall through to fetch.
  }
  fetch(url, {
    method: 'POST',
    body,
    keepalive: true,
    credentials: 'include',
  }).catch(() => {
    // Offline or blocked: a tracking call never surfaces an error on the page.
  });
}
