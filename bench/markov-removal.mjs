// The data-driven model's removal effects as the number of channels grows (campaigns, or
// source / medium pairs: the dashboard's channel page asks for every model at once). In
// process, on `--journeys` journeys (a third converting, 1–4 channels each, a few channels
// much more visited than the rest, as ads are):
//   - "one solve per channel": the removal effect as its definition reads, P(convert) solved
//     again with each channel removed (Gaussian elimination each time): the baseline, and
//     what pixeltrail ran before issue 22's thirteenth round;
//   - "pixeltrail": src/domain/markov-removal.ts, one inverse of I − Q for every channel;
//   - "longest step": the longest stretch between two of its pauses, the most the event loop
//     waits on it when the report runs it beside ingest (the report pauses every 10 ms).
// Both run on the same journeys, and their effects must agree (the largest difference is
// printed). The baseline runs up to --baseline-max channels (it is quartic: 31 s at 400).
//
// Run by run.mjs, or alone after `npm run build`:
//   node bench/markov-removal.mjs [--journeys 50000] [--baseline-max 400]
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { mdTable } from './single-event.mjs';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const CHANNELS = [50, 100, 200, 400, 1_000, 3_000];
export const MARKOV_JOURNEYS = 50_000;

/** The journeys: a fixed pseudo-random sequence, so every run measures the same graph. */
function journeysOf(count, channels) {
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Array.from({ length: count }, (_, i) => ({
    channels: Array.from(
      { length: 1 + Math.floor(rnd() * 4) },
      () => `c${Math.floor(rnd() ** 2 * channels)}`,
    ),
    converted: i % 3 === 0,
  }));
}

/** The baseline: P(convert) by elimination, once for the graph and once per channel removed. */
function oneSolvePerChannel(journeys) {
  const graph = new Map();
  for (const j of journeys) {
    const seq = ['S', ...j.channels, j.converted ? 'CONV' : 'NULL'];
    for (let i = 0; i + 1 < seq.length; i++) {
      const row = graph.get(seq[i]) ?? new Map();
      row.set(seq[i + 1], (row.get(seq[i + 1]) ?? 0) + 1);
      graph.set(seq[i], row);
    }
  }
  const probability = (removed) => {
    const states = [...graph.keys()].filter((s) => s !== removed);
    const at = new Map(states.map((s, i) => [s, i]));
    const n = states.length;
    const m = states.map((s, i) => {
      const row = new Array(n + 1).fill(0);
      const out = graph.get(s);
      let total = 0;
      for (const w of out.values()) total += w;
      row[i] = 1;
      for (const [to, w] of out) {
        if (to === 'CONV') row[n] += w / total;
        else if (to !== 'NULL' && to !== removed) row[at.get(to)] -= w / total;
      }
      return row;
    });
    for (let c = 0; c < n; c++) {
      let p = c;
      for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
      [m[c], m[p]] = [m[p], m[c]];
      const d = m[c][c];
      for (let k = c; k <= n; k++) m[c][k] /= d;
      for (let r = 0; r < n; r++) {
        const f = m[r][c];
        if (r === c || f === 0) continue;
        for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
      }
    }
    return m[at.get('S')][n];
  };
  const base = probability(null);
  const out = new Map();
  for (const s of graph.keys()) if (s !== 'S') out.set(s, 1 - probability(s) / base);
  return out;
}

export async function markovRemoval({ journeys, baselineMax, log = () => {} }) {
  const { removalEffectSteps } = await import(
    pathToFileURL(path.join(ROOT, 'dist', 'domain', 'markov-removal.js')).href
  );
  const rows = [];
  for (const channels of CHANNELS) {
    const js = journeysOf(journeys, channels);
    const used = new Set(js.flatMap((j) => j.channels)).size;
    const steps = removalEffectSteps(js);
    let longest = 0;
    let pauses = 0;
    const t0 = performance.now();
    let r;
    for (;;) {
      const t = performance.now();
      r = steps.next();
      longest = Math.max(longest, performance.now() - t);
      if (r.done) break;
      pauses++;
    }
    const ms = performance.now() - t0;
    let baseMs = null;
    let diff = null;
    if (used <= baselineMax) {
      const t = performance.now();
      const want = oneSolvePerChannel(js);
      baseMs = performance.now() - t;
      diff = 0;
      for (const [c, e] of want) diff = Math.max(diff, Math.abs(e - r.value.effects.get(c)));
    }
    rows.push({ channels: used, merged: r.value.merged, baseMs, ms, longest, pauses, diff });
    log(
      `  ${used} channels: ${baseMs === null ? '' : `${baseMs.toFixed(0)} ms one solve per channel, `}${ms.toFixed(0)} ms pixeltrail, longest step ${longest.toFixed(1)} ms`,
    );
  }
  return { journeys, baselineMax, rows };
}

export function markovLines(result) {
  if (!result) return [];
  const { journeys, baselineMax, rows } = result;
  return [
    '',
    '## The data-driven model as channels grow',
    '',
    `Removal effects over ${journeys.toLocaleString('en-US')} journeys (a third converting, 1–4 channels each), in process ([markov-removal.mjs](markov-removal.mjs)): the baseline solves P(convert) again for each channel removed, as pixeltrail did before (run up to ${baselineMax} channels); pixeltrail inverts I − Q once. "longest step": the longest stretch between its pauses, the most the event loop waits on it beside ingest. "merged": channels past the graph's 1,000 states that share one. "largest difference": between the two answers' effects.`,
    '',
    ...mdTable(
      [
        'channels',
        'one solve per channel ms',
        'pixeltrail ms',
        '÷ baseline',
        'longest step ms',
        'merged',
        'largest difference',
      ],
      [true, true, true, true, true, true, true],
      rows.map((r) => [
        r.channels.toLocaleString('en-US'),
        r.baseMs === null ? '–' : r.baseMs.toFixed(0),
        r.ms.toFixed(0),
        r.baseMs === null ? '–' : (r.ms / r.baseMs).toFixed(3),
        r.longest.toFixed(1),
        r.merged.toLocaleString('en-US'),
        r.diff === null ? '–' : r.diff.toExponential(1),
      ]),
    ),
  ];
}

async function main() {
  const { values } = parseArgs({
    options: {
      journeys: { type: 'string', default: String(MARKOV_JOURNEYS) },
      'baseline-max': { type: 'string', default: '400' },
    },
  });
  const result = await markovRemoval({
    journeys: Number(values.journeys),
    baselineMax: Number(values['baseline-max']),
    log: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(`${markovLines(result).join('\n')}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
