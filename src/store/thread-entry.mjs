// Worker entry: a worker thread starts without the parent's TypeScript loader, so register it here,
// then run the thread's module (pglite-worker.ts or pg-worker.ts).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
