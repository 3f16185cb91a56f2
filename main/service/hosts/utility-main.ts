// Entry of the engine bundle under Electron's utilityProcess (out/cli/engine-utility.cjs):
// process.parentPort delivers {data} events; the worker code expects plain messages.
import { runEngineWorker, type Port } from '../session/engine-worker';
import type { FromWorker, ToWorker } from '../session/engine-protocol';
import { preferSmallHeap } from './heap';

preferSmallHeap();

interface ParentPort {
  postMessage(m: unknown): void;
  on(ev: 'message', fn: (e: { data: unknown }) => void): void;
}

const parent = (process as unknown as { parentPort?: ParentPort }).parentPort;
if (!parent) throw new Error('engine-utility must run in an Electron utility process');
const port: Port = {
  postMessage: (m: FromWorker) => parent.postMessage(m),
  on: (_ev, fn: (m: ToWorker) => void) => parent.on('message', (e) => fn(e.data as ToWorker)),
};
runEngineWorker(port);
