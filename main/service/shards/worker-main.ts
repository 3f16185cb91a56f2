// Entry of out/cli/shard-worker.cjs: one engine worker of a sharded run (shards/). It reads every
// batch of the ring in order (ring.ts), decodes the packets given to it and lets the others move
// its clock, and posts what each batch made to the reader's thread. It blocks on shared memory
// between batches (it has nothing else to do), and while too much of what it posted waits for the
// merger (results.ts' resultBounds); a failure is posted with its message and stops the whole run
// (aborted), never silently.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { newCapturedPacket } from '../../engine/formats';
import { FlowsTask, type FlowsTaskSpec } from './flows-task';
import { MessagesTask, type MessagesTaskSpec } from './messages-task';
import { ExportTask, type ExportTaskSpec } from './export-task';
import { resultKiB, transferables, type ResultBounds, type ShardResult } from './results';
import type { PipelineTask } from './task';
import type { PacketPipeline } from '../pipeline/packet-pipeline';
import { EVERY_WORKER, TICK, C_ABORTED, C_DONE, C_ENDED, C_PUBLISHED, H_COUNT, H_NEW_SPILL, HEADER, IN_CHUNK, N_FILEOFF, N_SEC, R_CAPLEN, R_FILE, R_FRAME, R_IF, R_LINK, R_NSEC, R_OFFSET, R_ORIGLEN, R_SHARD, R_WHERE, REC_INTS, REC_NUMS, Slot, SLOTS, finishedWord, takenWord, type RingMemory } from './ring';

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
  task: FlowsTaskSpec | MessagesTaskSpec | ExportTaskSpec;
}

if (!parentPort) throw new Error('shard-worker must run as a worker thread');
const port = parentPort;
const { ring, index, workers, spills, returns, bounds, task: spec } = workerData as WorkerData;
const control = new Int32Array(ring.control);
const slots = ring.slots.map((m) => new Slot(m));

function run(): void {
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
  const p = newCapturedPacket();
  let k = 0;
  let quietSec = -Infinity;
  let quietPacket = -Infinity;
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
    const s = slots[seq % SLOTS];
    const ints = s.ints;
    const nums = s.nums;
    if (ints[H_NEW_SPILL] !== 0) {
      const m = receiveMessageOnPort(spills) as { message: { slot: number; spill: SharedArrayBuffer } } | undefined;
      if (m === undefined || m.message.slot !== seq % SLOTS) throw new Error(`batch ${seq} said its spill memory was replaced, but ${m === undefined ? 'none came' : `slot ${m.message.slot}'s came`}`);
      s.spill = new Uint8Array(m.message.spill);
    }
    const n = ints[H_COUNT];
    for (let i = 0; i < n; i++) {
      const o = HEADER + i * REC_INTS;
      const t = i * REC_NUMS;
      const shard = ints[o + R_SHARD];
      if (shard === TICK) task.tick(nums[t + N_SEC]);
      else if (shard !== index && shard !== EVERY_WORKER) {
        k++;
        if (nums[t + N_SEC] < quietSec && k < quietPacket) continue;
        task.passBy(k, nums[t + N_SEC], ints[o + R_NSEC]);
      } else {
        k++;
        p.buf = ints[o + R_WHERE] === IN_CHUNK ? s.chunk : s.spill;
        p.offset = ints[o + R_OFFSET];
        p.capLen = ints[o + R_CAPLEN];
        p.origLen = ints[o + R_ORIGLEN] >>> 0;
        p.tsSec = nums[t + N_SEC];
        p.tsNsec = ints[o + R_NSEC];
        p.frame = ints[o + R_FRAME];
        p.linkType = ints[o + R_LINK];
        p.ifIndex = ints[o + R_IF];
        p.fileOffset = nums[t + N_FILEOFF];
        task.file = ints[o + R_FILE];
        task.packet(k, p, shard === EVERY_WORKER);
      }
      // until these, other workers' packets change nothing here but the count
      quietSec = task.quietBeforeSec;
      quietPacket = task.quietUntilPacket;
    }
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
  run();
} catch (e) {
  // stopped: the run is over already, nothing to tell
  if (!(e instanceof Stopped)) {
    Atomics.store(control, C_ABORTED, 1);
    Atomics.notify(control, C_PUBLISHED);
    Atomics.notify(control, C_DONE + index);
    port.postMessage({ error: (e as Error).stack ?? String(e) });
  }
}
