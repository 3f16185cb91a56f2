// Entry of the engine bundle as a child process of `weft serve` (out/cli/engine-child.cjs): a
// process of its own can load the `cap` native module, which worker threads cannot (cap is not
// context-aware).
import type { FromWorker, ToWorker } from '../session/engine-protocol';
import { runEngineWorker, type Port } from '../session/engine-worker';
import { preferSmallHeap } from './heap';

preferSmallHeap();

if (!process.send) throw new Error('engine-child must be started with an IPC channel (child_process.fork)');
const port: Port = {
  postMessage: (m: FromWorker) => process.send!(m),
  on: (_ev, fn: (m: ToWorker) => void) => process.on('message', (m) => fn(m as ToWorker)),
};
process.on('disconnect', () => process.exit(0));
runEngineWorker(port, process.env.WEFT_SPOOL_PARENT || undefined);
