// The npm registry reachable here holds only this platform's builds of packages such as
// @rollup/rollup-* and @biomejs/cli-*, so `npm install` leaves the other platforms' optional
// packages out of package-lock.json, and `npm ci` then refuses the lock as out of sync.
// This adds the missing optional entries (npm skips them on install, as on any platform
// they do not fit). It runs after `npm install`; `npm ci` leaves the lock alone.
import { readFileSync, writeFileSync } from 'node:fs';

if (process.env.npm_command === 'ci') process.exit(0);
const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [, entry] of Object.entries(pkgs)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (pkgs[key]) continue;
    pkgs[key] = { version, ...(entry.dev ? { dev: true } : {}), optional: true };
    added++;
  }
}
if (added > 0) {
  lock.packages = Object.fromEntries(
    Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
  );
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`package-lock.json: added ${added} optional entries for other platforms`);
}
