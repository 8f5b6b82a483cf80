/** The smallest transparent 1x1 GIF (GIF89a, one transparent palette entry): 42 bytes. */
export const TRANSPARENT_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
  'base64',
);

/**
 * The GIF as a latin1 string (one char per byte). node:http writes a string body together
 * with the headers in one socket write, where a Buffer body takes a second (writev).
 */
export const TRANSPARENT_GIF_LATIN1 = TRANSPARENT_GIF.toString('latin1');

/** Headers of every pixel answer: never cached, so each view is a hit. */
export const GIF_HEADERS = {
  'content-type': 'image/gif',
  'cache-control': 'no-store, no-cache, must-revalidate, max-age=0',
  expires: '0',
  pragma: 'no-cache',
} as const;
