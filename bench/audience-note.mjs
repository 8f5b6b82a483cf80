// What a committed event costs the audience service in an environment with no audience, in
// process, no server (issue 22): the identifiers made for every event and then dropped
// (`noteIngested(items.flatMap(identifiersOf))`, as server.ts called it) against
// `noteEvents(events)`, which looks the environment up first. A tag event's user (anonymous
// and cookie ids, a user id). Both ways alternate, `runs` times each, batches of one event as
// single-event requests commit them; prints the minimum CPU ns per event of each.
//
//   npm run build && node bench/audience-note.mjs [events] [runs]
import os from 'node:os';
import { AudienceService, identifiersOf } from '../dist/audiences/audience-service.js';

const EVENTS = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 7);
const store = { listAudiences: async () => [], audiencesVersion: async () => 'v' };
const service = new AudienceService({
  store,
  nowMs: Date.now,
  newId: (p) => `${p}_1`,
  destination: () => undefined,
});
const event = {
  env_id: 'env_bench',
  event_name: 'Purchase',
  event_id: 'o-1',
  event_time: 1_763_900_000,
  source: 'tag',
  user: { anonymous_id: 'a-1', cookie_id: 'c-1', user_id: 'u-1' },
  properties: {},
  consent: { ads: null, analytics: null },
  warnings: [],
};
// The first event makes the service read the environment's (empty) list of audiences.
service.noteEvents([event]);
await service.settle();
const batch = [event];
// server.ts builds these for the live view either way: not counted.
const items = batch.map((e) => ({ kind: 'event', event: e }));
const ways = {
  'identifiersOf + noteIngested': () => service.noteIngested(items.flatMap(identifiersOf)),
  noteEvents: () => service.noteEvents(batch),
};
const best = Object.fromEntries(Object.keys(ways).map((k) => [k, Number.POSITIVE_INFINITY]));
for (let r = 0; r < RUNS; r++) {
  for (const [name, fn] of Object.entries(ways)) {
    const start = process.cpuUsage();
    for (let i = 0; i < EVENTS; i++) fn();
    const used = process.cpuUsage(start);
    best[name] = Math.min(best[name], ((used.user + used.system) * 1000) / EVENTS);
  }
}
console.log(
  `${EVENTS} events, ${RUNS} runs, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
for (const [name, ns] of Object.entries(best))
  console.log(`${name.padEnd(30)} ${ns.toFixed(0)} ns an event`);
