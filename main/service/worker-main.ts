// Entry of the engine worker bundle (out/cli/engine-worker.cjs) under worker_threads.
import { parentPort, workerData } from 'node:worker_threads';
import { runEngineWorker, type Port } from './engine-worker';

if (!parentPort) throw new Error('engine-worker must run as a worker thread');
runEngineWorker(parentPort as unknown as Port, (workerData as { spoolParent?: string } | undefined)?.spoolParent);
