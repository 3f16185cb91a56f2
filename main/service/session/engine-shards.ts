/**
 * The app engine's workers, seen from its main thread (engine-worker.ts): the ring the inputs are
 * read into, N workers each recording its own connections (engine-shard.ts), and what makes them
 * one session:
 *
 *   numbers   each worker numbers its connections in its own order and says at which capture
 *             packet each was made; batch by batch, once every worker has sent it, those are
 *             merged by packet into the capture-wide numbers one thread would give
 *   rows      every worker's changed rows go, renumbered, into one FlowTable here, which answers
 *             the queries (pages, sorts, filters, the timeline, keys) without asking the workers
 *   requests  about one connection (stream content, messages, search, packets, rows) go to its
 *             worker with its number there, and the answer comes back with the capture-wide one;
 *             a frame is looked for in every worker
 *
 * A worker's failure fails the whole engine with its message (onFailure).
 */
import type { Worker } from 'node:worker_threads';
import { DECODE_ANOMALY_NAMES } from '../../engine/decode/anomalies';
import { DEFAULT_ASSEMBLER_OPTIONS } from '../../engine/reassembly';
import { grownTo } from '../../engine/util/bytes';
import { newRing } from '../shards/ring';
import { RingFeeder, shareOf, startWorkers } from '../shards/sharded';
import type { FromShard, ToShard } from './app-worker';
import type { ShardBatch, ShardCounts, ShardRequest } from './engine-shard';
import { FlowTable } from './flow-table';

/** Every worker's counts added up, the decode anomalies by name. */
export interface ShardTotals extends Omit<ShardCounts, 'decode'> {
  decodeAnomalies: Record<string, number>;
  decodeTotal: number;
}

export class EngineShards {
  /** Every worker's rows, by capture-wide number. */
  readonly table = new FlowTable();
  readonly feeder: RingFeeder;
  /** Rows imported since the last look (engine-worker's deltas say how many changed). */
  changedRows = 0;
  failure: Error | null = null;
  private readonly workers: Worker[];
  private readonly counts: (ShardCounts | null)[];
  /** By capture-wide number: its worker and its number there. */
  private owner = new Uint8Array(1024);
  private local = new Int32Array(1024);
  /** By worker, by its number: the capture-wide one. */
  private readonly globalOf: Int32Array[];
  private readonly localNext: number[];
  private nextId = 1;
  /** Per worker: the packets at which its connections not yet numbered were made, in its number order, and how far into them numbering is. */
  private readonly creations: Float64Array[][];
  private readonly creationAt: number[];
  /** Per worker: packets of the capture it has read, by what it sent. */
  private readonly packetsRead: number[];
  /** Per worker: its parts not yet imported. */
  private readonly parts: ShardBatch[][];
  /** Connections made at or before this packet of the capture are numbered. */
  private numberedThrough = 0;
  /** Per worker: batches whose changes are all imported. */
  private readonly finished: number[];
  private waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly asks = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextReq = 1;
  private stopping: (() => void) | null = null;
  private stoppedCount = 0;

  constructor(
    readonly threads: number,
    spoolParent: string | undefined,
    idleSec: number,
    maxConnections: number,
    private readonly onFailure: (e: Error) => void,
    /** Each worker's heap limit (a worker past it fails, and the engine with it). */
    heapMb?: number,
  ) {
    const n = threads;
    const ring = newRing(n);
    this.counts = new Array(n).fill(null);
    this.globalOf = Array.from({ length: n }, () => new Int32Array(1024));
    this.localNext = new Array(n).fill(1);
    this.creations = Array.from({ length: n }, () => []);
    this.creationAt = new Array(n).fill(0);
    this.packetsRead = new Array(n).fill(0);
    this.parts = Array.from({ length: n }, () => []);
    this.finished = new Array(n).fill(0);
    const { workers, spillPorts } = startWorkers<FromShard>(
      ring,
      n,
      // the engine's limits are shared: they bound the engine's memory whatever the cores
      () => ({ kind: 'app', spoolParent, idleSec, maxConnections: shareOf(maxConnections, n)!, maxBufferedPagesTotal: shareOf(DEFAULT_ASSEMBLER_OPTIONS.maxBufferedPagesTotal, n)! }),
      (w, m) => this.message(w, m),
      (e) => this.fail(e),
      // the app's workers never wait for this thread (it reads the inputs: they would wait for each other)
      { batchKiB: 0, partKiB: 0, partBytes: 0 },
      heapMb ? { maxOldGenerationSizeMb: heapMb } : undefined,
    );
    this.workers = workers;
    this.feeder = new RingFeeder(ring, n, spillPorts);
  }

  private message(w: number, m: FromShard): void {
    switch (m.t) {
      case 'batch':
        if (m.created.length > 0) this.creations[w].push(m.created);
        this.packetsRead[w] = m.packets;
        this.parts[w].push(m);
        this.advance();
        return;
      case 'answer': {
        const a = this.asks.get(m.reqId);
        this.asks.delete(m.reqId);
        if (m.why !== undefined) a?.reject(new Error(m.why));
        else a?.resolve(m.value);
        return;
      }
      case 'stopped':
        if (++this.stoppedCount === this.threads) this.stopping?.();
        return;
    }
  }

  /** Numbers what every worker has read past, imports the parts whose rows are numbered, wakes who waited. */
  private advance(): void {
    this.number(Math.min(...this.packetsRead));
    for (let w = 0; w < this.threads; w++) {
      const q = this.parts[w];
      while (q.length > 0 && q[0].packets <= this.numberedThrough) {
        const b = q.shift()!;
        const g = this.globalOf[w];
        this.table.importRows(b.rows, (id) => g[id]);
        this.changedRows += b.rows.ids.length;
        if (b.counts !== null) {
          this.counts[w] = b.counts;
          this.finished[w] = b.through;
        }
      }
    }
    const through = Math.min(...this.finished);
    if (this.waiters.some((x) => x.seq <= through)) {
      const ready = this.waiters.filter((x) => x.seq <= through);
      this.waiters = this.waiters.filter((x) => x.seq > through);
      for (const x of ready) x.resolve();
    }
  }

  /**
   * Numbers the connections made at or before capture packet `through` (every worker has read
   * that far, so none made before it is still to come), by the packet each was made at (a packet
   * is one worker's, and makes at most one).
   */
  private number(through: number): void {
    if (through <= this.numberedThrough) return;
    const c = this.creations;
    const at = this.creationAt;
    // the next packet of worker v's not yet numbered, or Infinity
    const head = (v: number) => (c[v].length > 0 ? c[v][0][at[v]] : Infinity);
    for (;;) {
      let w = -1;
      let k = through + 1;
      for (let v = 0; v < this.threads; v++) {
        const h = head(v);
        if (h < k) {
          k = h;
          w = v;
        }
      }
      if (w < 0) break;
      if (++at[w] === c[w][0].length) {
        c[w].shift();
        at[w] = 0;
      }
      const id = this.nextId++;
      const l = this.localNext[w]++;
      if (id >= this.owner.length) {
        this.owner = grownTo(this.owner, id + 1);
        this.local = grownTo(this.local, id + 1);
      }
      this.owner[id] = w;
      this.local[id] = l;
      if (l >= this.globalOf[w].length) this.globalOf[w] = grownTo(this.globalOf[w], l + 1);
      this.globalOf[w][l] = id;
    }
    this.numberedThrough = through;
  }

  /** Resolves once every worker's results of the batches published so far are in the table. */
  caughtUp(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.feeder.published;
    if (Math.min(...this.finished) >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  /** Connection `id` (capture-wide)'s worker and its number there, or null if there is no such row. */
  locate(id: number): { worker: number; local: number } | null {
    if (!this.table.has(id)) return null;
    return { worker: this.owner[id], local: this.local[id] };
  }

  /** The capture-wide number of worker `w`'s connection `local`. */
  globalId(w: number, local: number): number {
    return this.globalOf[w][local];
  }

  /** Asks worker `w`; the promise rejects with the worker's reason when it has no answer. */
  ask<V>(w: number, request: ShardRequest): Promise<V> {
    if (this.failure) return Promise.reject(this.failure);
    const reqId = this.nextReq++;
    return new Promise<V>((resolve, reject) => {
      this.asks.set(reqId, { resolve: resolve as (v: unknown) => void, reject });
      this.post(w, { t: 'ask', reqId, request });
    });
  }

  private post(w: number, m: ToShard): void {
    this.workers[w].postMessage(m);
  }

  setLimit(maxConnections: number): void {
    for (let w = 0; w < this.threads; w++) this.post(w, { t: 'limit', maxConnections: shareOf(maxConnections, this.threads)! });
  }

  setPolicies(rules: string[]): void {
    for (let w = 0; w < this.threads; w++) this.post(w, { t: 'policies', rules });
  }

  /** Every worker's counts added up. */
  totals(): ShardTotals {
    const t: ShardTotals = { tcpPackets: 0, decodeAnomalies: {}, decodeTotal: 0, streamAnomalies: {}, protocols: {}, open: 0, bufferedPages: 0, limitClosed: 0, spoolBytes: 0 };
    const add = (to: Record<string, number>, from: Record<string, number>) => {
      for (const k in from) if (from[k] > 0) to[k] = (to[k] ?? 0) + from[k];
    };
    for (const c of this.counts) {
      if (c === null) continue;
      t.tcpPackets += c.tcpPackets;
      c.decode.forEach((v, i) => {
        if (v === 0) return;
        t.decodeAnomalies[DECODE_ANOMALY_NAMES[i]] = (t.decodeAnomalies[DECODE_ANOMALY_NAMES[i]] ?? 0) + v;
        t.decodeTotal += v;
      });
      add(t.streamAnomalies, c.streamAnomalies);
      add(t.protocols, c.protocols);
      t.open += c.open;
      t.bufferedPages += c.bufferedPages;
      t.limitClosed += c.limitClosed;
      t.spoolBytes += c.spoolBytes;
    }
    return t;
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.feeder.failure = e;
    this.feeder.abort();
    for (const x of this.waiters.splice(0)) x.reject(e);
    for (const a of this.asks.values()) a.reject(e);
    this.asks.clear();
    this.onFailure(e);
  }

  /** Stops the workers; each removes its spool first (at most `ms` waited for them). */
  async stop(ms = 2000): Promise<void> {
    if (!this.failure) {
      const all = new Promise<void>((resolve) => (this.stopping = resolve));
      for (let w = 0; w < this.threads; w++) this.post(w, { t: 'stop' });
      await Promise.race([all, new Promise((r) => setTimeout(r, ms))]);
    }
    this.failure ??= new Error('the engine stopped');
    this.feeder.abort();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
