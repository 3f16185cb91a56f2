/**
 * An app engine worker's loop (shard-worker.cjs with an 'app' task): unlike a `weft` command's
 * worker, it lives as long as the session and answers requests about its connections, so it
 * never blocks: it waits for the next batch with Atomics.waitAsync and returns to its event loop
 * after each one, where the engine's requests (engine-worker.ts) are answered.
 */
import type { MessagePort } from 'node:worker_threads';
import { BatchReader } from '../shards/batch';
import { C_ABORTED, C_DONE, C_PUBLISHED, type RingMemory } from '../shards/ring';
import { waitAsync } from '../shards/sharded';
import { EngineShard, type AppTaskSpec, type ShardBatch, type ShardRequest } from './engine-shard';

/** From the engine's main thread to an app worker. */
export type ToShard = { t: 'ask'; reqId: number; request: ShardRequest } | { t: 'limit'; maxConnections: number } | { t: 'policies'; rules: string[] } | { t: 'stop' };

/** From an app worker: its batches, its answers (`why` when there is none), its files removed. */
export type FromShard = ShardBatch | { t: 'answer'; reqId: number; value?: unknown; why?: string } | { t: 'stopped' };

/**
 * How often a busy worker sends what changed. After every 1 MiB batch, refreshing, packing and
 * posting rows took ~12 % of a worker's time on the 1 GB bulk profile (2.2–2.3 s of CPU, now
 * 1.9–2.0 s with one worker).
 */
const SEND_MS = 50;

interface Port {
  postMessage(m: FromShard, transfer?: ArrayBuffer[]): void;
  on(ev: 'message', fn: (m: ToShard) => void): void;
}

export function runAppWorker(port: Port, ring: RingMemory, index: number, workers: number, spills: MessagePort, spec: AppTaskSpec): void {
  const control = new Int32Array(ring.control);
  const shard = new EngineShard(spec, index, workers);
  const batches = new BatchReader(ring, index, spills);
  let stopped = false;
  port.on('message', (m) => {
    switch (m.t) {
      case 'ask': {
        let reply: FromShard;
        try {
          reply = { t: 'answer', reqId: m.reqId, value: shard.answer(m.request) };
        } catch (e) {
          reply = { t: 'answer', reqId: m.reqId, why: (e as Error).message };
        }
        port.postMessage(reply);
        return;
      }
      case 'limit':
        shard.setLimit(m.maxConnections);
        return;
      case 'policies':
        shard.setPolicies(m.rules);
        return;
      case 'stop':
        stopped = true;
        shard.dispose();
        port.postMessage({ t: 'stopped' });
        return;
    }
  });
  const post = (b: ShardBatch) => {
    const r = b.rows;
    port.postMessage(b, [b.created.buffer as ArrayBuffer, r.ids.buffer as ArrayBuffer, r.nums.buffer as ArrayBuffer, r.sha.buffer as ArrayBuffer]);
  };
  // what changed is sent every SEND_MS while batches keep coming, at once when the worker has
  // read every batch published (so the engine sees where it is) and after an end of input
  let sent = 0;
  const loop = async () => {
    for (let seq = 0; !stopped; ) {
      const published = Atomics.load(control, C_PUBLISHED);
      if (Atomics.load(control, C_ABORTED) !== 0) return;
      if (published <= seq) {
        await waitAsync(control, C_PUBLISHED, published, 500);
        continue;
      }
      batches.read(seq, shard);
      // done with the slot: what the batch changed is in the worker's own tables
      Atomics.store(control, C_DONE + index, seq + 1);
      Atomics.notify(control, C_DONE + index);
      seq++;
      const now = performance.now();
      if (shard.ended || now - sent >= SEND_MS || Atomics.load(control, C_PUBLISHED) <= seq) {
        shard.take(seq, batches.packetsRead, post);
        sent = now;
      }
      // requests are answered between batches
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  loop().catch((e: Error) => {
    Atomics.store(control, C_ABORTED, 1);
    Atomics.notify(control, C_DONE + index);
    port.postMessage({ error: e.stack ?? String(e) } as unknown as FromShard);
  });
}
