// The tag's cost to the page it is put on (issue 7): main-thread time on page load in
// Debian's Chromium (playwright-core), next to its gzipped bytes. Run by run.mjs and alone:
//
//   node bench/tag-main-thread.mjs [--loads 15]
//
// A local server on 127.0.0.1 serves the same small shop page three ways: with the loader
// snippet, `<script async src="/t.js">` (dist/public/t.js, gzip, as pixeltrail serves it with
// `?env_id=` for an environment without trigger rules) and `init` + `track('Purchase')`; with
// a trivial script of the same shape instead of the tag (the stub, an async external script
// that takes the queue, the same two calls); and with neither. Each load runs in a fresh
// browser context (a first visit: nothing cached) and waits for the tag's beacon; Chrome's own
// counters (CDP `Performance.getMetrics`: ScriptDuration, TaskDuration) are read after it,
// and a trace of the load (devtools.timeline) gives the script time of the tasks that ran
// before the window's load event: the load path, which the tag's idle-time work is not on.
// The tag's main-thread time is the median with the tag minus the median with the trivial
// script.
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

const snippet = (src) =>
  '<script>window.pixeltrail=window.pixeltrail||function(){(pixeltrail.q=pixeltrail.q||[]).push(arguments)};</script>' +
  `<script async src="${src}"></script>` +
  "<script>pixeltrail('init','env_demo');pixeltrail('track','Purchase',{value:49.9,currency:'EUR'},{event_id:'ord-1'});</script>";
/** The baseline's script: takes the queue and replays it into a function that keeps nothing. */
const TRIVIAL_JS =
  '(function(){var q=(window.pixeltrail&&window.pixeltrail.q)||[];var f=function(){};' +
  'window.pixeltrail=f;for(var i=0;i<q.length;i++)f.apply(null,q[i]);})();';
/** What pixeltrail prepends to t.js?env_id= for an environment without trigger rules. */
const NO_RULES = 'window.pixeltrailRules=false;';
const KINDS = {
  without: '',
  trivial: snippet('/trivial.js'),
  with: snippet('/t.js?env_id=env_demo'),
};
/** Main-thread events of the trace that run script. */
const SCRIPT_EVENTS = new Set([
  'EvaluateScript',
  'v8.compile',
  'FunctionCall',
  'TimerFire',
  'FireIdleCallback',
  'EventDispatch',
  'RunMicrotasks',
  'v8.evaluateModule',
]);

function page(kind) {
  const items = Array.from({ length: 40 }, (_, i) => `<li>Product ${i} — €${10 + i}.00</li>`);
  return `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>${KINDS[kind] ?? ''}</head><body><h1>Checkout</h1><ul>${items.join('')}</ul></body></html>`;
}

/**
 * Script time (ms) on the page's main thread in a devtools.timeline trace: in all, and in the
 * tasks that started before the window's load event ended, in wall time and in the thread's own
 * CPU time (`tdur`). Nested events count once. On a loaded machine the renderer is descheduled
 * in the middle of a task: wall time then counts other processes' turns, CPU time does not.
 */
function traceScript(buffer) {
  const events = JSON.parse(buffer.toString('utf8')).traceEvents;
  const main = events.find(
    (e) =>
      e.name === 'thread_name' &&
      e.args?.name === 'CrRendererMain' &&
      events.some((x) => x.pid === e.pid && x.name === 'MarkLoad'),
  );
  if (!main) return null;
  const load = events.find((e) => e.pid === main.pid && e.name === 'MarkLoad');
  const spans = events
    .filter(
      (e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && SCRIPT_EVENTS.has(e.name),
    )
    .sort((a, b) => a.ts - b.ts);
  let end = -1;
  let all = 0;
  let beforeLoad = 0;
  let beforeLoadCpu = 0;
  for (const e of spans) {
    if (e.ts + (e.dur ?? 0) <= end) continue;
    const start = Math.max(e.ts, end);
    const dur = e.ts + (e.dur ?? 0) - start;
    end = e.ts + (e.dur ?? 0);
    all += dur;
    if (e.ts < load.ts) {
      beforeLoad += dur;
      // The part of the event not nested in the one before, in the same share of its CPU time.
      beforeLoadCpu += e.dur ? ((e.tdur ?? e.dur) * dur) / e.dur : 0;
    }
  }
  return { allMs: all / 1000, loadMs: beforeLoad / 1000, loadCpuMs: beforeLoadCpu / 1000 };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * `{ loads, scriptMs, loadScriptMs, loadScriptCpuMs, taskMs, withTag: {…}, trivial: {…},
 * without: {…}, gzipBytes }`
 */
export async function tagMainThreadBench({ loads = 15, log = () => undefined } = {}) {
  const tag = fs.readFileSync(path.join(ROOT, 'dist', 'public', 't.js'));
  const gzip = zlib.gzipSync(tag, { level: 9 });
  const served = zlib.gzipSync(Buffer.concat([Buffer.from(NO_RULES), tag]), { level: 9 });
  const enginePath = path.join(ROOT, 'dist', 'public', 'rules.js');
  const rules = Buffer.concat([
    Buffer.from('window.__ptr=[];\n'),
    fs.existsSync(enginePath) ? fs.readFileSync(enginePath) : Buffer.alloc(0),
  ]);
  let beacons = 0;
  let onBeacon = () => undefined;
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/t.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript', 'content-encoding': 'gzip' });
      return res.end(served);
    }
    // As pixeltrail serves it to a tag that loads it (plain t.js, or an environment with rules).
    if (req.url.startsWith('/rules.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      return res.end(rules);
    }
    if (req.url === '/trivial.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      return res.end(TRIVIAL_JS);
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
    res.end(page(req.url.slice(1)));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS });
  const samples = { with: [], trivial: [], without: [] };
  try {
    for (let i = 0; i < loads + 1; i++) {
      for (const kind of ['without', 'trivial', 'with']) {
        const context = await browser.newContext({ userAgent: UA });
        const p = await context.newPage();
        const cdp = await context.newCDPSession(p);
        await cdp.send('Performance.enable');
        await browser.startTracing(p, { categories: ['devtools.timeline'] });
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
        const trace = traceScript(await browser.stopTracing());
        // The first round warms the browser up (code caches, process start) and is dropped.
        if (i > 0)
          samples[kind].push({
            script: m.ScriptDuration * 1000,
            task: m.TaskDuration * 1000,
            load: trace?.loadMs ?? Number.NaN,
            loadCpu: trace?.loadCpuMs ?? Number.NaN,
          });
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
    loadScriptMs: median(xs.map((x) => x.load)),
    loadScriptCpuMs: median(xs.map((x) => x.loadCpu)),
  });
  const withTag = summary(samples.with);
  const trivial = summary(samples.trivial);
  const without = summary(samples.without);
  return {
    loads,
    withTag,
    trivial,
    without,
    // The tag against the trivial script of the same shape (issue 22).
    scriptMs: withTag.scriptMs - trivial.scriptMs,
    loadScriptMs: withTag.loadScriptMs - trivial.loadScriptMs,
    loadScriptCpuMs: withTag.loadScriptCpuMs - trivial.loadScriptCpuMs,
    taskMs: withTag.taskMs - trivial.taskMs,
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
