/** The smallest transparent 1x1 GIF (GIF89a, one transparent palette entry): 42 bytes. */
export const TRANSPARENT_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
  'base64',
);

/** Headers of every pixel answer: never cached, so each view is a hit. */
export const GIF_HEADERS = {
  'content-type': 'image/gif',
  'cache-control': 'no-store, no-cache, must-revalidate, max-age=0',
  expires: '0',
  pragma: 'no-cache',
} as const;
