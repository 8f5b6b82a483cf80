// The worker lives in worker.ts (loop), lanes.ts and attempt.ts; this path keeps importers.
export { type DeliveryObserver, DeliveryWorker, type WorkerDeps } from './worker.js';
