// Entry of out/cli/flows-json.cjs, a worker thread of `weft flows --json`: it takes batches of
// completed flows (flow-batch.ts), hashes their waiting bytes, and writes their JSON lines to the
// output file descriptor itself, batch after batch in the order they came. It counts the batches
// written in shared memory (state[0], woken with Atomics.notify) so the main thread can wait for
// it without a message, and says there state[1] = 1 when the reader went away (EPIPE), 2 when
// writing failed otherwise; state[2] beats while it waits for a slow reader (so a stall is not
// taken for a dead thread).
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { flowJson, readBatch, type FlowBatch } from '../../engine/flows';
import { NODE_HASHES } from './hashes';

if (!parentPort) throw new Error('flows-json must run as a worker thread');
const { state: sab, fd } = workerData as { state: SharedArrayBuffer; fd: number };
const state = new Int32Array(sab);
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `b`; a full pipe (EAGAIN: the reader is slower) waits a millisecond and goes on. */
function writeAll(b: Buffer, n: number): void {
  let w = 0;
  while (w < n) {
    try {
      w += writeSync(fd, b, w, n - w);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.add(state, 2, 1);
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

let out = Buffer.allocUnsafe(1 << 20);
parentPort.on('message', (b: FlowBatch) => {
  try {
    if (state[1] === 0) {
      let used = 0;
      const put = (line: string) => {
        if (used + line.length + 1 > out.length) {
          writeAll(out, used);
          used = 0;
          if (line.length + 1 > out.length) out = Buffer.allocUnsafe(line.length + 1);
        }
        used += out.write(line, used, 'latin1'); // flows' JSON is ASCII (UDP conversations' too)
        out[used++] = 10;
      };
      readBatch(b, NODE_HASHES, (f) => put(flowJson(f)), put);
      writeAll(out, used);
    }
  } catch (e) {
    Atomics.store(state, 1, (e as NodeJS.ErrnoException).code === 'EPIPE' ? 1 : 2);
    if (state[1] === 2) process.stderr.write(`weft: writing flows failed: ${(e as Error).message}\n`);
  }
  Atomics.add(state, 0, 1);
  Atomics.notify(state, 0);
});
