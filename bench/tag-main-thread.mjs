// The tag's cost to the page it is put on (issue 7): main-thread time on page load in
// Debian's Chromium (playwright-core), next to its gzipped bytes. Run by run.mjs and alone:
//
//   node bench/tag-main-thread.mjs [--loads 15]
//
// A local server on 127.0.0.1 serves the same small shop page twice: with the loader snippet,
// `<script async src="/t.js">` (dist/public/t.js, gzip, as pixeltrail serves it) and
// `init` + `track('Purchase')`, and without them. Each load runs in a fresh browser context
// (a first visit: nothing cached) and waits for the tag's beacons; Chrome's own counters
// (CDP `Performance.getMetrics`: ScriptDuration, TaskDuration) are read after it. The tag's
// main-thread time is the median with the tag minus the median without.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const CHROMIUM_PATH = '/usr/bin/chromium';
// isbot classes HeadlessChrome as a bot; a real page view comes from a desktop Chrome.
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'];
/** How long a load may wait for the tag's beacon. */
const BEACON_TIMEOUT_MS = 10_000;
/** The tag sends its batch shortly after the calls; this leaves room for its timer. */
const SETTLE_MS = 300;

const SNIPPET =
  '<script>window.pixeltrail=window.pixeltrail||function(){(pixeltrail.q=pixeltrail.q||[]).push(arguments)};</script>' +
  '<script async src="/t.js"></script>' +
  "<script>pixeltrail('init','env_demo');pixeltrail('track','Purchase',{value:49.9,currency:'EUR'},{event_id:'ord-1'});</script>";

function page(withTag) {
  const items = Array.from({ length: 40 }, (_, i) => `<li>Product ${i} — €${10 + i}.00</li>`);
  return `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>${withTag ? SNIPPET : ''}</head><body><h1>Checkout</h1><ul>${items.join('')}</ul></body></html>`;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** `{ loads, scriptMs, taskMs, withTag: {scriptMs, taskMs}, without: {…}, gzipBytes }` */
export async function tagMainThreadBench({ loads = 15, log = () => undefined } = {}) {
  const tag = fs.readFileSync(path.join(ROOT, 'dist', 'public', 't.js'));
  const gzip = zlib.gzipSync(tag, { level: 9 });
  let beacons = 0;
  let onBeacon = () => undefined;
  const server = http.createServer((req, res) => {
    if (req.url === '/t.js') {
      res.writeHead(200, { 'content-type': 'text/javascript', 'content-encoding': 'gzip' });
      return res.end(gzip);
    }
    if (req.method === 'POST') {
      req.resume();
      req.on('end', () => {
        beacons++;
        onBeacon();
        res.writeHead(204).end();
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page(req.url === '/with'));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS });
  const samples = { with: [], without: [] };
  try {
    for (let i = 0; i < loads + 1; i++) {
      for (const kind of ['without', 'with']) {
        const context = await browser.newContext({ userAgent: UA });
        const p = await context.newPage();
        const cdp = await context.newCDPSession(p);
        await cdp.send('Performance.enable');
        const before = beacons;
        const beacon =
          kind === 'with'
            ? new Promise((resolve, reject) => {
                const t = setTimeout(
                  () => reject(new Error('no beacon from the tag')),
                  BEACON_TIMEOUT_MS,
                );
                onBeacon = () => {
                  if (beacons > before) {
                    clearTimeout(t);
                    resolve();
                  }
                };
              })
            : Promise.resolve();
        await p.goto(`${base}/${kind}`, { waitUntil: 'load' });
        await beacon;
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const { metrics } = await cdp.send('Performance.getMetrics');
        const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
        // The first round warms the browser up (code caches, process start) and is dropped.
        if (i > 0)
          samples[kind].push({ script: m.ScriptDuration * 1000, task: m.TaskDuration * 1000 });
        await context.close();
      }
      if (i % 5 === 0) log(`  tag: ${i}/${loads} loads ...`);
    }
  } finally {
    await browser.close();
    server.close();
  }
  const summary = (xs) => ({
    scriptMs: median(xs.map((x) => x.script)),
    taskMs: median(xs.map((x) => x.task)),
  });
  const withTag = summary(samples.with);
  const without = summary(samples.without);
  return {
    loads,
    withTag,
    without,
    scriptMs: withTag.scriptMs - without.scriptMs,
    taskMs: withTag.taskMs - without.taskMs,
    rawBytes: tag.length,
    gzipBytes: gzip.length,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({ options: { loads: { type: 'string', default: '15' } } });
  const r = await tagMainThreadBench({
    loads: Number(values.loads),
    log: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
