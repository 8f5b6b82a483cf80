// Renders the soak run as a PNG: a uPlot page (the dashboard's chart library) with the
// series inlined, screenshotted by Debian's Chromium through playwright-core.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const WIDTH = 1000;
const HEIGHT = 330;

/** One chart per series group: [title, [[label, values], …]]. */
function page(x, charts) {
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  const js = fs.readFileSync(path.join(dist, 'uPlot.iife.min.js'), 'utf8');
  const css = fs.readFileSync(path.join(dist, 'uPlot.min.css'), 'utf8');
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
  const specs = charts.map(([title, series]) => ({
    title,
    labels: series.map(([label]) => label),
    data: [x, ...series.map(([, values]) => values)],
  }));
  return `<!doctype html><html><head><style>${css} body{margin:8px;font:13px sans-serif;background:#fff}</style>
<script>${js}</script></head><body><script>
const specs = ${JSON.stringify(specs)}; const colors = ${JSON.stringify(colors)};
for (const s of specs) new uPlot({ title: s.title, width: ${WIDTH}, height: ${HEIGHT},
  scales: { x: { time: false } }, axes: [{ label: 'seconds into the soak' }, { size: 70 }],
  series: [{}, ...s.labels.map((label, i) => ({ label, stroke: colors[i], width: 2 }))] },
  s.data, document.body);
</script></body></html>`;
}

/** Writes `file` (PNG); returns false when Chromium is missing. */
export async function renderSoakChart(file, x, charts) {
  if (!fs.existsSync(CHROMIUM)) return false;
  const html = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'soak-chart-')), 'chart.html');
  fs.writeFileSync(html, page(x, charts));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  try {
    const tab = await browser.newPage({
      viewport: { width: WIDTH + 20, height: (HEIGHT + 60) * charts.length + 20 },
    });
    await tab.goto(`file://${html}`);
    await tab.screenshot({ path: file, fullPage: true });
  } finally {
    await browser.close();
    fs.rmSync(path.dirname(html), { recursive: true, force: true });
  }
  return true;
}
