import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

/** A built asset as it is served: plain, gzipped, and its ETag. */
export interface ServedAsset {
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

export function servedAsset(body: Buffer): ServedAsset {
  return {
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`,
  };
}
