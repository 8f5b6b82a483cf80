// Summarises a V8 .cpuprofile (from `node --cpu-prof`): where the busy time went, by area
// (our dist/ files, each npm package, node internals, GC) and by function, self and total.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP_AREAS = 20;
const TOP_FUNCTIONS = 15;
const MAX_NAME_CHARS = 60;
// '(program)' is native work outside JS (libuv, the HTTP parser): busy, so it is counted.
const IDLE_FRAMES = new Set(['(idle)']);

function fileOf(url) {
  return url.startsWith('file://') ? fileURLToPath(url) : url;
}

/** Where a frame's code lives: `dist/…` file, npm package, `node:…` module or a V8 marker. */
function areaOf(callFrame, root) {
  const { url, functionName } = callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const file = fileOf(url);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return pkg[1];
  if (file.startsWith('node:')) return file.split('/').slice(0, 2).join('/');
  return path.relative(root, file);
}

/** `name file:line`, the file relative to the project or to node_modules. */
function frameKey(callFrame, root) {
  const { functionName, url, lineNumber } = callFrame;
  const name = (functionName || '(anonymous)').slice(0, MAX_NAME_CHARS);
  if (!url) return name;
  const file = fileOf(url);
  const at = file.lastIndexOf('node_modules/');
  const rel = at >= 0 ? file.slice(at + 'node_modules/'.length) : path.relative(root, file);
  return `${name} ${rel}:${lineNumber + 1}`;
}

function top(map, n) {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

function add(map, key, us) {
  map.set(key, (map.get(key) ?? 0) + us);
}

/**
 * Reads one .cpuprofile and returns a plain-text report: busy time (idle excluded) split by
 * area, then the functions with the most self time, then our own (dist/) functions by total
 * time including what they call. With `requests`, each line also shows µs per request.
 */
export function summarizeProfile(file, root, requests = 0) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfByNode = new Map();
  profile.samples.forEach((id, i) => {
    add(selfByNode, id, profile.timeDeltas[i] ?? 0);
  });

  let busyUs = 0;
  const byArea = new Map();
  const selfByFn = new Map();
  const totalByOwnFn = new Map();
  for (const [id, us] of selfByNode) {
    const node = nodes.get(id);
    if (IDLE_FRAMES.has(node.callFrame.functionName)) continue;
    busyUs += us;
    add(byArea, areaOf(node.callFrame, root), us);
    add(selfByFn, frameKey(node.callFrame, root), us);
    const seen = new Set();
    for (let n = node; n; n = nodes.get(parent.get(n.id))) {
      if (!areaOf(n.callFrame, root).startsWith('dist/')) continue;
      const key = frameKey(n.callFrame, root);
      if (!seen.has(key)) add(totalByOwnFn, key, us);
      seen.add(key);
    }
  }

  const perRequest = (us) =>
    requests > 0 ? `${(us / requests).toFixed(1).padStart(6)} µs/req ` : '';
  const row = ([key, us]) =>
    `  ${((100 * us) / busyUs).toFixed(1).padStart(5)}% ${perRequest(us)} ${key}`;
  const per = requests > 0 ? ` over ${requests} requests` : '';
  return [
    `busy CPU time: ${(busyUs / 1e6).toFixed(2)} s${per} (idle excluded)`,
    '',
    'self time by area:',
    ...top(byArea, TOP_AREAS).map(row),
    '',
    `top ${TOP_FUNCTIONS} functions by self time:`,
    ...top(selfByFn, TOP_FUNCTIONS).map(row),
    '',
    `top ${TOP_FUNCTIONS} dist/ functions by total time (self + callees):`,
    ...top(totalByOwnFn, TOP_FUNCTIONS).map(row),
  ].join('\n');
}

// On its own: node bench/cpu-profile-summary.mjs <file.cpuprofile> [requests]
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  process.stdout.write(
    `${summarizeProfile(process.argv[2], root, Number(process.argv[3] ?? 0))}\n`,
  );
}
