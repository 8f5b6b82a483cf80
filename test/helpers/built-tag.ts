import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { servedAsset } from '../../src/http/served-asset.js';
import type { Server } from '../../src/server.js';

/**
 * Builds the browser tag and hands it to an in-process server, which (run from src/) has no
 * dist/public beside it (t.js and the codeless-trigger engine rules.js).
 */
export function useBuiltTag(server: Server): void {
  execFileSync(process.execPath, ['scripts/build-tag.mjs'], { stdio: 'pipe' });
  const js = readFileSync('dist/public/t.js');
  server.services.tag = {
    js,
    gzip: gzipSync(js, { level: 9 }),
    etag: `"${createHash('sha256').update(js).digest('hex').slice(0, 16)}"`,
  };
  server.services.rulesEngine = readFileSync('dist/public/rules.js');
  server.services.viewTag = servedAsset(readFileSync('dist/public/v.js'));
}
