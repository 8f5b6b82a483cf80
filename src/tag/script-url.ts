/**
 * Where t.js was loaded from, read at idle time from the stack of an error made in its own
 * code: browsers name each frame's script URL (Chromium `at f (URL:line:col)`, Firefox and
 * Safari `f@URL:line:col`). `document.currentScript`, the usual way, is only set while the
 * script first runs, on the page's load path, where its first read made Chromium build the
 * DOM's script-element wrappers: 0.4 ms of the tag's ~1 ms there (bench/tag-main-thread.mjs).
 * An error made there costs more (0.8–2 ms: Chromium records where the whole script stands);
 * made at idle time, in a small function, 0.1–0.3 ms.
 */
export function scriptUrl(stack = new Error().stack): string | undefined {
  // The last `:line:col` of the first frame's URL: a port or a query may hold colons too.
  return /(http[^\s)]+):\d+:\d+/.exec(stack || '')?.[1];
}
