/**
 * EngineHost on Node's worker_threads: the engine runs in a worker thread started from the built
 * bundle out/cli/engine-worker.cjs (built by `npm install` / `npm run build:cli`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EngineHost, FromWorker, ToWorker } from './engine-protocol';

export function workerBundlePath(): string {
  // __dirname is out/cli when bundled, main/service when run from sources (tests).
  const candidates = [join(__dirname, 'engine-worker.cjs'), join(__dirname, '..', '..', 'out', 'cli', 'engine-worker.cjs')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`engine worker bundle not found (looked in ${candidates.join(', ')}): run 'npm run build:cli'`);
  return found;
}

export class WorkerThreadHost implements EngineHost {
  private readonly worker: Worker;

  constructor(opts: { spoolParent?: string } = {}) {
    this.worker = new Worker(workerBundlePath(), { workerData: opts });
  }

  post(msg: ToWorker): void {
    this.worker.postMessage(msg);
  }

  onMessage(fn: (msg: FromWorker) => void): void {
    this.worker.on('message', fn);
  }

  async terminate(): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (m: FromWorker) => {
        if (m.t === 'stopped') resolve();
      };
      this.worker.on('message', done);
      this.worker.postMessage({ t: 'stop' } satisfies ToWorker);
      setTimeout(resolve, 2000).unref();
    });
    await this.worker.terminate();
  }
}
