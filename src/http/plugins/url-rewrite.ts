import { SNOWPLOW_GET_PATH } from '../snowplow-paths.js';

/**
 * Where a request is routed, before routing:
 * - under a first-party path prefix (`/metrics-xyz/t.js`), the prefix is dropped, so a
 *   reverse proxy may forward the path as it is;
 * - Snowplow's web tracker sends its GET pixel to `/i` too: a query with the tracker
 *   protocol's `e=` (event type) goes to the Snowplow pixel, anything else stays our
 *   impression pixel.
 */
export function rewriteUrl(url: string, pathPrefix: string): string {
  let out = url;
  if (
    pathPrefix &&
    (out === pathPrefix || out.startsWith(`${pathPrefix}/`) || out.startsWith(`${pathPrefix}?`))
  )
    out = out.slice(pathPrefix.length) || '/';
  if (out.startsWith('/?')) out = `/${out.slice(1)}`;
  if (out.startsWith('/i?') && /[?&]e=/.test(out)) return SNOWPLOW_GET_PATH + out.slice(2);
  return out;
}
