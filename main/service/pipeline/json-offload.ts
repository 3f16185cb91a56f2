/**
 * `weft flows --json` on two threads: the main thread reads, decodes, reassembles and packs each
 * completed flow into a batch (flow-batch.ts); a worker thread (json-worker.ts) hashes the
 * waiting bytes and writes the JSON lines to the output, batch after batch in order. On a capture
 * of many small connections this takes the hashing and the JSON — a third of the work — to the
 * second core. The lines are exactly those flowJson writes on one thread (a test compares them).
 *
 * Memory: a batch is handed over at BATCH bytes, and packing waits (blocking, on shared memory)
 * while IN_FLIGHT batches are not yet written — even in the middle of an input chunk, where a SYN
 * flood at the table's limit completes tens of thousands of connections. Batches are packed in
 * IN_FLIGHT + 1 slots of shared memory taken in turn, so none is allocated or transferred.
 */
import { Worker } from 'node:worker_threads';
import { FlowBatchWriter, sharedArena, type FlowAccumulator } from '../../engine/flows';
import { engineBundle } from '../hosts/child-host';

const BATCH = 256 << 10;
const IN_FLIGHT = 3;
const STALL_MS = 30_000;

export class JsonOffload {
  private readonly worker: Worker;
  /** Batches are packed in IN_FLIGHT + 1 slots of shared memory: the one being packed and those in flight. */
  private readonly batch = new FlowBatchWriter(sharedArena(IN_FLIGHT + 1, BATCH));
  /** [batches written, 1 if the reader went away / 2 if writing failed, heartbeat]: shared with the worker. */
  private readonly state = new Int32Array(new SharedArrayBuffer(12));
  private sent = 0;
  private failure: Error | null = null;

  /** Writes to file descriptor `fd` (1: standard output; nothing else may write to it meanwhile). */
  constructor(fd = 1) {
    this.worker = new Worker(engineBundle('flows-json.cjs'), { workerData: { state: this.state.buffer, fd } });
    this.worker.on('error', (e) => (this.failure = e));
  }

  /** The reader of the output went away (nothing more will be written). */
  get closed(): boolean {
    return this.state[1] !== 0;
  }

  /** A completed flow (from a FlowFactory made with deferDigests). */
  add(a: FlowAccumulator): void {
    if (this.closed) return;
    this.batch.add(a);
    this.sendIfFull();
  }

  /** A line written as it is, in its place among the flows (a UDP conversation's JSON). */
  addLine(line: string): void {
    if (this.closed) return;
    this.batch.addLine(line);
    this.sendIfFull();
  }

  private sendIfFull(): void {
    if (this.batch.size < BATCH) return;
    this.send();
    // blocking: the worker's messages cannot reach this thread meanwhile, so a dead worker is
    // noticed by its silence (no batch written, no heartbeat) for STALL_MS
    let seen = -1;
    let since = Date.now();
    for (let done = Atomics.load(this.state, 0); this.sent - done > IN_FLIGHT && !this.closed; done = Atomics.load(this.state, 0)) {
      const now = done + Atomics.load(this.state, 2);
      if (now !== seen) {
        seen = now;
        since = Date.now();
      } else if (Date.now() - since > STALL_MS) throw new Error(`the thread writing flows stopped (no progress for ${STALL_MS / 1000} s)`);
      Atomics.wait(this.state, 0, done, 100);
    }
  }

  private send(): void {
    if (this.batch.count === 0) return;
    const b = this.batch.take();
    this.sent++;
    const moved = [b.nums.buffer, b.bytes.buffer].filter((x): x is ArrayBuffer => !(x instanceof SharedArrayBuffer));
    this.worker.postMessage(b, moved);
  }

  /** Sends what is left, waits until every line is written, and stops the worker. */
  async close(): Promise<void> {
    this.send();
    try {
      while (Atomics.load(this.state, 0) < this.sent && !this.failure) await new Promise((r) => setTimeout(r, 2));
      if (this.failure) throw this.failure;
    } finally {
      await this.worker.terminate();
    }
  }
}
