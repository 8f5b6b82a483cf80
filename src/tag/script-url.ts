/**
 * Where t.js was loaded from, read at idle time from the stack of an error made in its own
 * code: browsers name each frame's script URL (Chromium `at f (URL:line:col)`, Firefox and
 * Safari `f@URL:line:col`). `document.currentScript`, the usual way, is only set while the
 * script first runs, on the page's load path, where its first read made Chromium build the
 * DOM's script-element wrappers: 0.4 ms of the tag's ~1 ms there (bench/tag-main-thread.mjs).
 * An error made there costs more (0.8–2 ms: Chromium records where the whole script stands);
 * made at idle time, in a small function, 0.1–0.3 ms.
 */
export function scriptUrl(stack = Error().stack, page = location.href): string | undefined {
  // The first `:line:col` after the frame's URL (a port is followed by a path, not `:col`).
  // No stack (a frame limit of 0) reads as "undefined": no URL.
  const url = /(http\S+?):\d+:\d+/.exec(stack as string)?.[1];
  // A copy pasted inline into the page (or put there by a tag manager) runs as the page
  // itself: its frames name the page, which is not where the collector is.
  return page.startsWith(url as string) ? '' : url;
}
