// What a single Segment call's 32 KB check costs, in process, no server (issue 22): the
// message written out as JSON and its bytes counted (`bytes`, as every call did) against
// `singleMessageSize`, which takes the body's length when that alone keeps it under the limit.
// The single-event bench's `/v1/track` message and a typical analytics-node track call with its
// library context. Both ways alternate; minimum CPU ns per call of `runs` runs.
//
//   npm run build && node bench/segment-size.mjs [calls] [runs]
import os from 'node:os';
import { bytes, singleMessageSize } from '../dist/http/collect/segment-body.js';

const CALLS = Number(process.argv[2] ?? 200_000);
const RUNS = Number(process.argv[3] ?? 7);
const bodies = {
  bench: JSON.stringify({
    type: 'track',
    event: 'Order Completed',
    messageId: 'seg-12345',
    anonymousId: 'anon-1',
    context: { ip: '203.0.113.9', userAgent: 'Mozilla/5.0' },
    properties: { revenue: 1, currency: 'EUR' },
  }),
  'analytics-node': JSON.stringify({
    type: 'track',
    event: 'Order Completed',
    messageId: 'node-next-1733443200000-7f3a9c2e-1b4d-4e8f-9a6b-2c5d8e1f0a3b',
    userId: 'user-48213',
    timestamp: '2026-12-06T00:00:00.000Z',
    context: { library: { name: '@segment/analytics-node', version: '2.1.2' } },
    properties: {
      order_id: 'ord-90412',
      revenue: 129.9,
      currency: 'EUR',
      products: [
        { product_id: 'p-1', sku: 'SKU-1', name: 'Shoe', price: 89.9, quantity: 1 },
        { product_id: 'p-2', sku: 'SKU-2', name: 'Sock', price: 20, quantity: 2 },
      ],
    },
    integrations: {},
    _metadata: { nodeVersion: '20.20.2', jsRuntime: 'node' },
  }),
};
let sink = 0;
console.log(
  `${CALLS} calls, ${RUNS} runs, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
for (const [name, text] of Object.entries(bodies)) {
  const message = JSON.parse(text);
  const received = Buffer.byteLength(text);
  const ways = {
    bytes: () => bytes(message),
    singleMessageSize: () => singleMessageSize(message, received),
  };
  const best = { bytes: Number.POSITIVE_INFINITY, singleMessageSize: Number.POSITIVE_INFINITY };
  for (let r = 0; r < RUNS; r++) {
    for (const [way, fn] of Object.entries(ways)) {
      const start = process.cpuUsage();
      for (let i = 0; i < CALLS; i++) sink += fn() ?? 0;
      const used = process.cpuUsage(start);
      best[way] = Math.min(best[way], ((used.user + used.system) * 1000) / CALLS);
    }
  }
  console.log(
    `${name} (${received} bytes): bytes ${best.bytes.toFixed(0)} ns, singleMessageSize ${best.singleMessageSize.toFixed(0)} ns a call`,
  );
}
if (sink === 0) console.log('');
