// Entry of out/cli/shard-worker.cjs: one engine worker of a sharded run (shards/). It reads every
// batch of the ring in order (ring.ts), decodes the packets given to it and lets the others move
// its clock, and posts what each batch made to the reader's thread. It blocks on shared memory
// between batches (it has nothing else to do), and while too much of what it posted waits for the
// merger (results.ts' resultBounds); a failure is posted with its message and stops the whole run
// (aborted), never silently. The app's engine workers (an 'app' task) run session/app-worker.ts'
// loop instead: they live as long as the session and answer requests between batches.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { FlowsTask, type FlowsTaskSpec } from './flows-task';
import { MessagesTask, type MessagesTaskSpec } from './messages-task';
import { ExportTask, type ExportTaskSpec } from './export-task';
import { resultKiB, transferables, type ResultBounds, type ShardResult } from './results';
import type { PipelineTask } from './task';
import type { PacketPipeline } from '../pipeline/packet-pipeline';
import { C_ABORTED, C_DONE, C_ENDED, C_PUBLISHED, finishedWord, takenWord, type RingMemory } from './ring';
import { BatchReader } from './batch';
import type { AppTaskSpec } from '../session/engine-shard';
import { runAppWorker } from '../session/app-worker';

export interface WorkerData {
  ring: RingMemory;
  index: number;
  workers: number;
  /** Where a slot's replaced spill memory comes ({slot, spill}), read synchronously when a batch says so. */
  spills: MessagePort;
  /** Where the memory of results the merger has merged comes back (ArrayBuffer[]), read before each result is made. */
  returns: MessagePort;
  /** How far the worker may be ahead of the merger (results.ts' flow control). */
  bounds: ResultBounds;
  task: FlowsTaskSpec | MessagesTaskSpec | ExportTaskSpec | AppTaskSpec;
}

if (!parentPort) throw new Error('shard-worker must run as a worker thread');
const port = parentPort;
const { ring, index, workers, spills, returns, bounds, task: spec } = workerData as WorkerData;
const control = new Int32Array(ring.control);

function run(spec: FlowsTaskSpec | MessagesTaskSpec | ExportTaskSpec): void {
  const task: PipelineTask<PacketPipeline, unknown> = spec.kind === 'flows' ? new FlowsTask(spec, index, workers) : spec.kind === 'messages' ? new MessagesTask(spec, index, workers) : new ExportTask(spec, index, workers);
  const taken = takenWord(workers, index);
  let sentKiB = 0;
  // a result to the merger; then on only while at most `bound` KiB of them wait there (0: no bound)
  const post = (r: ShardResult, bound: number) => {
    sentKiB = (sentKiB + resultKiB(r)) | 0;
    port.postMessage(r, transferables(r));
    if (bound > 0)
      for (let t = Atomics.load(control, taken); ((sentKiB - t) | 0) > bound; t = Atomics.load(control, taken)) {
        if (Atomics.load(control, C_ABORTED) !== 0) throw new Stopped();
        Atomics.wait(control, taken, t, 500);
      }
    for (let m = receiveMessageOnPort(returns); m !== undefined; m = receiveMessageOnPort(returns)) task.reuse(m.message as ArrayBuffer[]);
  };
  const batches = new BatchReader(ring, index, spills);
  for (let seq = 0; ; seq++) {
    for (;;) {
      const published = Atomics.load(control, C_PUBLISHED);
      if (published > seq) break;
      if (Atomics.load(control, C_ABORTED) !== 0) return;
      if (Atomics.load(control, C_ENDED) !== 0 && Atomics.load(control, C_PUBLISHED) <= seq) {
        const last = task.end(seq, (part) => post(part, bounds.partKiB), bounds.partBytes);
        port.postMessage(last, transferables(last));
        Atomics.store(control, finishedWord(workers, index), 1);
        return;
      }
      Atomics.wait(control, C_PUBLISHED, published, 500);
    }
    batches.read(seq, task);
    const r = task.take(seq);
    // done with the slot (what the batch made is the worker's own memory) before waiting for the merger
    Atomics.store(control, C_DONE + index, seq + 1);
    Atomics.notify(control, C_DONE + index);
    post(r, bounds.batchKiB);
  }
}

/** The run was stopped (another worker failed, or the reader) while this one waited. */
class Stopped extends Error {}

try {
  // the app's workers live as long as its session and answer requests between batches
  if (spec.kind === 'app') runAppWorker(port as Parameters<typeof runAppWorker>[0], ring, index, workers, spills, spec);
  else run(spec);
} catch (e) {
  // stopped: the run is over already, nothing to tell
  if (!(e instanceof Stopped)) {
    Atomics.store(control, C_ABORTED, 1);
    Atomics.notify(control, C_PUBLISHED);
    Atomics.notify(control, C_DONE + index);
    port.postMessage({ error: (e as Error).stack ?? String(e) });
  }
}
