/**
 * What engine workers send the reader's thread, and how it is merged (sharded.ts).
 *
 * A worker numbers its connections (and UDP conversations) 1, 2, … in its own order, and tells
 * for each number the packet of the capture that took it (`creations`). Each item it makes — a
 * flow's line, a protocol message's line — comes with the packet of the capture at which it was
 * made (`ks`; Infinity: the end of the input), the worker's number of its connection, and a kind.
 * ShardMerger ranks the creations over all workers — a packet is one worker's and takes at most
 * one number — which gives the numbers one thread would, and orders a batch's items by (packet,
 * number), keeping each connection's items in the order they were made: the same order for
 * every number of workers.
 *
 * The end of the input ends every connection still open at once — on a SYN flood 150,000 lines,
 * 90 MB of text — so a worker sends what it makes then in parts of about PART_BYTES, in number
 * order (PacketPipeline.end), and the merger merges the workers' parts by number as they come.
 * A worker goes on (to the next batch, the next part) only while the results it sent and the
 * merger has not merged are few (resultBounds, ring.ts' takenWord): so what waits between the
 * threads is a few results, not every batch the ring holds.
 */
import { grownTo } from '../../engine/util/bytes';

/** What names a connection whatever the number of workers: the packet of the capture that created it, and which of that packet's creations it was. */
export function creationKey(k: number, nth: number): number {
  return k * 8 + nth;
}

/** One batch's items from one worker: typed arrays (transferred), no object per item. */
export interface ShardResult<F = unknown> {
  seq: number;
  /** The last part of the end of input (with the counts). */
  final: boolean;
  /** A part of the end of input: items in number order, no creations. */
  ending: boolean;
  creations: Float64Array;
  ks: Float64Array;
  ids: Float64Array;
  kinds: Uint8Array;
  /** 1: the item's connection is done (its number is forgotten after it). */
  ends: Uint8Array;
  /** The items' text, back to back, and where each item's text begins and ends. */
  text: Uint8Array;
  from: Int32Array;
  to: Int32Array;
  /** Per item, plain data when the task sends any (a filter's facts, a message), else null. */
  extra: (F | null)[];
  /** final only: what the task counted (TCP packets decoded, …). */
  counts?: Record<string, number>;
}

export function transferables(r: ShardResult): ArrayBuffer[] {
  return [r.creations.buffer, r.ks.buffer, r.ids.buffer, r.kinds.buffer, r.ends.buffer, r.text.buffer, r.from.buffer, r.to.buffer] as ArrayBuffer[];
}

/** A growing list of numbers. */
class Numbers {
  a = new Float64Array(256);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) this.a = grownTo(this.a, this.n + 1);
    this.a[this.n++] = v;
  }
  take(pool: BufferPool): Float64Array {
    const r = pool.copy(Float64Array, this.a, this.n);
    this.n = 0;
    return r;
  }
}

/**
 * Memory for the results a worker sends, given back by the merger once merged (when the run's
 * consumer copies what it keeps: sharded.ts' `copied`). Without it each batch's arrays were
 * garbage on the reader's thread that its collector, seeing them survive in the queue, kept
 * until a full collection: on a SYN flood a hundred megabytes of merged results at a time.
 */
class BufferPool {
  private free: ArrayBuffer[] = [];
  private bytes = 0;

  give(bufs: ArrayBuffer[]): void {
    for (const b of bufs) {
      if (this.free.length >= POOL_BUFFERS || this.bytes + b.byteLength > POOL_BYTES) continue; // left to the collector
      this.free.push(b);
      this.bytes += b.byteLength;
    }
  }

  /** The first `n` elements of `a`, copied into pooled memory (the smallest buffer that holds them, if not more than four times too big) or new memory. */
  copy<T extends Float64Array | Int32Array | Uint8Array>(kind: { new (b: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number }, a: { subarray(start: number, end: number): ArrayLike<number> }, n: number): T {
    const need = n * kind.BYTES_PER_ELEMENT;
    let best = -1;
    const most = Math.max(4 * need, 1 << 16);
    for (let i = 0; i < this.free.length; i++) {
      const l = this.free[i].byteLength;
      if (l >= need && l <= most && (best < 0 || l < this.free[best].byteLength)) best = i;
    }
    let buf: ArrayBuffer;
    if (best < 0) buf = new ArrayBuffer(need);
    else {
      buf = this.free[best];
      this.free[best] = this.free[this.free.length - 1];
      this.free.pop();
      this.bytes -= buf.byteLength;
    }
    const r = new kind(buf, 0, n);
    r.set(a.subarray(0, n));
    return r;
  }
}
const POOL_BUFFERS = 16;
const POOL_BYTES = 8 << 20;

/** Bytes of text after which a worker sends a part of its end of input. */
export const PART_BYTES = 4 << 20;

/**
 * How far a worker may be ahead of the merger, in KiB of results sent and not merged (0: no
 * bound), between batches and between the parts of its end, and how big a part of its end is.
 */
export interface ResultBounds {
  batchKiB: number;
  partKiB: number;
  partBytes: number;
}

/**
 * The bounds a run has unless told otherwise: between batches a few of a SYN flood's (whose every
 * packet ends a flow at the table's limit; fewer made the worker wait for each merge, 20 % slower),
 * between the parts of the end two parts.
 */
export function resultBounds(partBytes = PART_BYTES, batchKiB = 32 << 10): ResultBounds {
  return { batchKiB, partKiB: Math.max(1, (2 * partBytes) >>> 10), partBytes };
}

/** A result's size as the flow control counts it (resultKiB on both sides: the worker's sent, the merger's merged). */
export function resultKiB(r: ShardResult): number {
  return 1 + ((r.text.length + 16 * r.ks.length) >>> 10);
}

/** A worker's side: items gathered while a batch is read, taken as a ShardResult. */
export class ResultWriter<F = unknown> {
  /** At the end of input: told before an item when the text has reached partBytes (the task sends a part). */
  full: (() => void) | null = null;
  partBytes = PART_BYTES;
  private readonly creations = new Numbers();
  private readonly ks = new Numbers();
  private readonly ids = new Numbers();
  private kinds = new Uint8Array(256);
  private ends = new Uint8Array(256);
  private from = new Int32Array(256);
  private to = new Int32Array(256);
  private text: Buffer = Buffer.allocUnsafe(1 << 16);
  private textLen = 0;
  private extra: (F | null)[] = [];
  private readonly pool = new BufferPool();

  /** Memory of results the merger has merged, back (transferables()' buffers). */
  reuse(bufs: ArrayBuffer[]): void {
    this.pool.give(bufs);
  }

  /** Number `id`'s connection was created at capture packet k (numbers are told in order). */
  created(k: number): void {
    this.creations.push(k);
  }

  /**
   * An item of connection `id` at capture packet k: `text` from its `skip`-th character (a line
   * made with the worker's number in front, which the merger replaces); `ascii` when the text is
   * known to be ASCII (copied as bytes, not encoded).
   */
  item(k: number, id: number, kind: number, ends: boolean, text: string, skip: number, ascii: boolean, extra?: F | null): void {
    if (this.full !== null && this.textLen >= this.partBytes) this.full();
    const i = this.ks.n;
    this.ks.push(k);
    this.ids.push(id);
    if (i === this.kinds.length) {
      this.kinds = grownTo(this.kinds, i + 1);
      this.ends = grownTo(this.ends, i + 1);
      this.from = grownTo(this.from, i + 1);
      this.to = grownTo(this.to, i + 1);
    }
    this.kinds[i] = kind;
    this.ends[i] = ends ? 1 : 0;
    this.room(ascii ? text.length : text.length * 3);
    this.from[i] = this.textLen + skip;
    this.textLen += ascii ? this.text.write(text, this.textLen, 'latin1') : this.text.write(text, this.textLen, 'utf8');
    this.to[i] = this.textLen;
    this.extra.push(extra ?? null);
  }

  /**
   * An item whose content is `head` numbers (as float64, first) and then bytes (a frame and its
   * times), copied: no object per item, which a capture's worth of frames would make millions of.
   */
  bytes(k: number, id: number, kind: number, head: readonly number[], data: Uint8Array): void {
    const i = this.ks.n;
    this.item(k, id, kind, false, '', 0, true);
    this.room(8 * head.length + data.length + 8);
    // float64s want an aligned offset in the reader's view (Float64Array over the text's buffer)
    this.textLen = (this.textLen + 7) & ~7;
    this.from[i] = this.textLen;
    for (const v of head) {
      this.text.writeDoubleLE(v, this.textLen);
      this.textLen += 8;
    }
    this.text.set(data, this.textLen);
    this.textLen += data.length;
    this.to[i] = this.textLen;
  }

  /** Room for `n` more bytes of text. */
  private room(n: number): void {
    if (this.textLen + n <= this.text.length) return;
    const g = Buffer.allocUnsafe(Math.max(this.textLen + n, this.text.length * 2));
    this.text.copy(g, 0, 0, this.textLen);
    this.text = g;
  }

  take(seq: number, ending = false, final = false, counts?: Record<string, number>): ShardResult<F> {
    const n = this.ks.n;
    const r: ShardResult<F> = {
      seq,
      final,
      ending,
      creations: this.creations.take(this.pool),
      ks: this.ks.take(this.pool),
      ids: this.ids.take(this.pool),
      kinds: this.pool.copy(Uint8Array, this.kinds, n),
      ends: this.pool.copy(Uint8Array, this.ends, n),
      text: this.pool.copy(Uint8Array, this.text, this.textLen),
      from: this.pool.copy(Int32Array, this.from, n),
      to: this.pool.copy(Int32Array, this.to, n),
      extra: this.extra,
      counts,
    };
    this.textLen = 0;
    this.extra = [];
    return r;
  }
}

/** The reader's side: the workers' results, batch by batch, as items in one order with capture-wide numbers. */
export class ShardMerger<F = unknown> {
  private readonly queues: ShardResult<F>[][];
  private readonly numbers: Map<number, number>[];
  private readonly nextLocal: number[];
  private nextNumber = 1;
  private finals = 0;
  /** The workers' final counts, added up. */
  readonly counts: Record<string, number> = {};
  /** Told each capture-wide number and its creation key (creationKey): weft export finds its flows again by it. */
  created: ((id: number, key: number) => void) | null = null;
  private lastK = -1;
  private nth = 0;
  /** At the end of input: how far each worker's current part has been merged, and the last number merged. */
  private readonly at: number[];
  private lastEnding = 0;
  /** Told each result once merged (its worker may go on; its memory may go back). */
  merged: ((w: number, r: ShardResult<F>) => void) | null = null;

  constructor(
    private readonly workers: number,
    /** An item, in order: its connection's capture-wide number, its kind, and where its text and extra are (r.text[from, to), r.extra[i]). */
    private readonly onItem: (id: number, kind: number, r: ShardResult<F>, i: number, from: number, to: number) => void,
  ) {
    this.queues = Array.from({ length: workers }, () => []);
    this.numbers = Array.from({ length: workers }, () => new Map());
    this.nextLocal = new Array(workers).fill(1);
    this.at = new Array(workers).fill(0);
  }

  /** Every worker sent its last batch. */
  get done(): boolean {
    return this.finals === this.workers;
  }

  add(w: number, r: ShardResult<F>): void {
    if (r.ending && r.creations.length > 0) throw new Error(`engine thread ${w + 1} began a connection at the end of the input`);
    if (r.final && r.counts) for (const [k, v] of Object.entries(r.counts)) this.counts[k] = (this.counts[k] ?? 0) + v;
    this.queues[w].push(r);
    while (this.finals < this.workers && this.queues.every((q) => q.length > 0)) {
      const heads = this.queues.map((q) => q[0]);
      if (heads.some((h) => h.seq !== heads[0].seq || h.ending !== heads[0].ending)) throw new Error(`engine threads out of step (batches ${heads.map((h) => `${h.seq}${h.ending ? ' (end)' : ''}`).join(', ')})`);
      if (heads[0].ending) this.mergeEnding(heads);
      else this.step(this.queues.map((q) => q.shift()!));
    }
  }

  /**
   * The end of input: the workers' parts merged by number (each worker's are in number order),
   * until a part is used up whose next has not come, or every worker's last part is.
   */
  private mergeEnding(rs: ShardResult<F>[]): void {
    for (;;) {
      let best = -1;
      let bestId = Infinity;
      for (let w = 0; w < rs.length; w++) {
        const r = rs[w];
        if (this.at[w] === r.ids.length) {
          if (r.final) continue;
          // this part is merged: the worker may make its next, which must come before anything else is merged
          this.queues[w].shift();
          this.at[w] = 0;
          this.merged?.(w, r);
          return;
        }
        const id = this.numbers[w].get(r.ids[this.at[w]]);
        if (id === undefined) throw new Error(`engine thread ${w + 1} made an item of connection ${r.ids[this.at[w]]}, which it never began`);
        if (id < bestId) {
          best = w;
          bestId = id;
        }
      }
      if (best < 0) {
        this.finals = this.workers;
        for (const q of this.queues) q.length = 0;
        return;
      }
      if (bestId < this.lastEnding) throw new Error(`engine thread ${best + 1} ended connection ${bestId} after ${this.lastEnding} at the end of the input (its items must come in number order)`);
      this.lastEnding = bestId;
      const r = rs[best];
      const i = this.at[best]++;
      if (r.ends[i]) this.numbers[best].delete(r.ids[i]);
      this.onItem(bestId, r.kinds[i], r, i, r.from[i], r.to[i]);
    }
  }

  private step(rs: ShardResult<F>[]): void {
    this.number(rs);
    const ks: number[] = [];
    const gids: number[] = [];
    const where: number[] = [];
    for (let w = 0; w < rs.length; w++) {
      const r = rs[w];
      const m = this.numbers[w];
      for (let i = 0; i < r.ids.length; i++) {
        const gid = m.get(r.ids[i]);
        if (gid === undefined) throw new Error(`engine thread ${w + 1} made an item of connection ${r.ids[i]}, which it never began`);
        if (r.ends[i]) m.delete(r.ids[i]);
        ks.push(r.ks[i]);
        gids.push(gid);
        where.push(w * 2 ** 26 + i);
      }
    }
    const order = ks.map((_, j) => j);
    // stable: a connection's items (one worker's, in the order made) keep their order
    order.sort((a, b) => ks[a] - ks[b] || gids[a] - gids[b]);
    for (const j of order) {
      const w = Math.floor(where[j] / 2 ** 26);
      const i = where[j] % 2 ** 26;
      const r = rs[w];
      this.onItem(gids[j], r.kinds[i], r, i, r.from[i], r.to[i]);
    }
    if (this.merged !== null) for (let w = 0; w < rs.length; w++) this.merged(w, rs[w]);
  }

  /** Ranks the batch's creations over the workers (each worker's list is in capture order already). */
  private number(rs: ShardResult<F>[]): void {
    const at = new Array(rs.length).fill(0);
    for (;;) {
      let best = -1;
      for (let w = 0; w < rs.length; w++) if (at[w] < rs[w].creations.length && (best < 0 || rs[w].creations[at[w]] < rs[best].creations[at[best]])) best = w;
      if (best < 0) return;
      const k = rs[best].creations[at[best]];
      // the n-th number taken at packet k (a packet is one worker's: n counts within it)
      const n = k === this.lastK ? this.nth + 1 : 0;
      this.lastK = k;
      this.nth = n;
      at[best]++;
      this.created?.(this.nextNumber, creationKey(k, n));
      this.numbers[best].set(this.nextLocal[best]++, this.nextNumber++);
    }
  }
}
