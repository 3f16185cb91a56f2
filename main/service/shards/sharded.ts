/**
 * A capture read on one thread and its connections worked on N others (`--threads N`): the
 * TypeScript analogue of several gopacket Assemblers sharing the work, each owning its own
 * connections.
 *
 *   reader thread ── file chunks into the shared ring (ring.ts), a record per packet with its
 *        │           worker: the symmetric hash of its innermost address pair (a light decode)
 *        ├─▶ worker 0 ─┐  each runs the whole pipeline for its packets and moves its clock on
 *        ├─▶ worker 1 ─┤  everyone else's (PacketPipeline.passBy), so idle closing, flushing and
 *        └─▶ worker … ─┘  after-close windows end a flow at the packet one thread would
 *                      └─▶ results.ts' merger (on the reader's thread): capture-wide numbers,
 *                          one order whatever N is
 *
 * The merged items are ordered by the packet of the capture at which each was made, then by its
 * connection's number (flows ending at the same packet — an idle sweep, the end of the input —
 * in number order), a connection's own items in the order made; N = 1 gives that order too.
 * Each stage waits for the next: the reader for the slowest worker (SLOTS batches) and for the
 * merger (results not yet merged), the merger for the output.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, Worker, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import type { FileHandle } from 'node:fs/promises';
import { PacketDecoder } from '../../engine/decode';
import { LinkType } from '../../engine/formats';
import type { CaptureFormatError, CapturedPacket, InterfaceInfo, PacketSink } from '../../engine/formats';
import type { ReadOptions } from '../../sources/capture-source';
import { readInputs } from '../pipeline/packet-pipeline';
import { engineBundle } from '../hosts/child-host';
import { EVERY_WORKER, INPUT_END, TICK, C_ABORTED, C_DONE, C_ENDED, C_PUBLISHED, H_COUNT, H_NEW_SPILL, HEADER, IN_CHUNK, IN_SPILL, N_FILEOFF, N_SEC, pairHash, pairHashAt, R_CAPLEN, R_FILE, R_FRAME, R_IF, R_LINK, R_NSEC, R_OFFSET, R_ORIGLEN, R_SHARD, R_WHERE, REC_INTS, REC_NUMS, Slot, SLOTS, finishedWord, newRing, takenWord, type RingMemory } from './ring';
import type { WorkerData } from './worker-main';
import { resultBounds, resultKiB, ShardMerger, transferables, type ResultBounds, type ShardResult } from './results';

/** The default number of engine workers: one per core. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Each worker's young generation (V8's default gives a worker about 34 MB): measured on 500,000
 * small connections with 2 workers, 16 MB costs 3 % of the time and saves 47 MB of peak RSS
 * (338 → 290 MB), which keeps `weft flows` within its 300 MB there.
 */
const WORKER_YOUNG_MB = 16;

/** Each of `threads` workers' share of a connection limit (a limit is per table), or undefined for none. */
export function shareOf(limit: number | undefined, threads: number): number | undefined {
  return limit === undefined ? undefined : Math.max(1, Math.ceil(limit / threads));
}

/** Results not yet merged, in bytes of their text, past which the reader waits. */
const MAX_WAITING_BYTES = 16 << 20;

/** At most this many engine workers (more only cost memory: each holds a ring's view and a pipeline). */
export const MAX_THREADS = 64;

/** Atomics.waitAsync (ES2024; Node has it since 16): resolves when the word changes, or after `ms`. */
export function waitAsync(a: Int32Array, index: number, value: number, ms: number): Promise<unknown> {
  const r = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<unknown> | string } }).waitAsync(a, index, value, ms);
  return r.async ? (r.value as Promise<unknown>) : Promise.resolve(r.value);
}

/** The reader's side of the ring: frames packets into the slot being filled, each with its worker. */
export class RingFeeder implements PacketSink {
  private readonly control: Int32Array;
  private readonly slots: Slot[];
  private readonly decoder = new PacketDecoder({ defrag: false });
  private seq = 0;
  private slot: Slot | null = null;
  private view: Uint8Array | null = null;
  private count = 0;
  private spillUsed = 0;
  /** Packets framed so far (all inputs), and their captured bytes. */
  packets = 0;
  bytes = 0;
  /** The input being read (0, 1, … in the order given). */
  file = 0;
  /** Set when a worker failed: reading stops with it. */
  failure: Error | null = null;

  constructor(
    readonly ring: RingMemory,
    private readonly workers: number,
    private readonly spillPorts: MessagePort[],
    /** Interfaces described so far, by `${file}:${index}`. */
    readonly interfaces = new Map<string, InterfaceInfo>(),
    /** Waits while the merger is behind (results not yet merged and written). */
    private readonly mergeGate: () => Promise<void> = async () => {},
  ) {
    this.control = new Int32Array(ring.control);
    this.slots = ring.slots.map((m) => new Slot(m));
  }

  /** Batches published so far. */
  get published(): number {
    return this.seq;
  }

  /** The next slot to fill, once every worker is done with the batch it held. */
  async claim(): Promise<Slot> {
    await this.mergeGate();
    for (let w = this.behind(); w >= 0; w = this.behind()) await waitAsync(this.control, C_DONE + w, Atomics.load(this.control, C_DONE + w), 200);
    return this.slots[this.seq % SLOTS];
  }

  /**
   * claim(), waiting on the workers without returning to the event loop: a live capture hands
   * packets over in a callback that cannot wait (workers never wait for this thread, so this
   * cannot deadlock).
   */
  private claimNow(): Slot {
    for (let w = this.behind(); w >= 0; w = this.behind()) Atomics.wait(this.control, C_DONE + w, Atomics.load(this.control, C_DONE + w), 200);
    return this.slots[this.seq % SLOTS];
  }

  /** A worker still on the batch the next slot held (-1: none); throws a worker's failure. */
  private behind(): number {
    if (this.failure) throw this.failure;
    const need = this.seq - SLOTS + 1;
    for (let w = 0; w < this.workers; w++) if (Atomics.load(this.control, C_DONE + w) < need) return w;
    return -1;
  }

  interface(i: InterfaceInfo): void {
    this.interfaces.set(`${this.file}:${i.index}`, i);
  }

  /** The chunk `view` (of the claimed slot's memory, from its start) is about to be framed. */
  begin(view: Uint8Array): void {
    this.slot = this.slots[this.seq % SLOTS];
    this.view = view;
    this.count = 0;
    this.spillUsed = 0;
    this.slot.ints[H_NEW_SPILL] = 0;
  }

  packet(p: CapturedPacket): void {
    const s = this.slot!;
    const i = this.count++;
    const o = HEADER + i * REC_INTS;
    const t = i * REC_NUMS;
    const ints = s.ints;
    ints[o + R_SHARD] = this.shardOf(p);
    if (p.buf.buffer === this.view!.buffer) {
      // a view of the chunk (the reader may hand on a view of a view: after a file's first bytes)
      ints[o + R_WHERE] = IN_CHUNK;
      ints[o + R_OFFSET] = p.buf.byteOffset + p.offset;
    } else {
      // the record completed across chunks, in the reader's scratch: copied once
      if (this.spillUsed + p.capLen > s.spill.length) this.growSpill(s, this.spillUsed + p.capLen);
      s.spill.set(p.buf.subarray(p.offset, p.offset + p.capLen), this.spillUsed);
      ints[o + R_WHERE] = IN_SPILL;
      ints[o + R_OFFSET] = this.spillUsed;
      this.spillUsed += p.capLen;
    }
    ints[o + R_CAPLEN] = p.capLen;
    ints[o + R_ORIGLEN] = p.origLen | 0;
    ints[o + R_NSEC] = p.tsNsec;
    ints[o + R_FRAME] = p.frame;
    ints[o + R_LINK] = p.linkType;
    ints[o + R_IF] = p.ifIndex;
    ints[o + R_FILE] = this.file;
    s.nums[t + N_SEC] = p.tsSec;
    s.nums[t + N_FILEOFF] = p.fileOffset;
    this.packets++;
    this.bytes += p.capLen;
  }

  /**
   * The packet's worker: by its innermost address pair. TCP straight over Ethernet (with at most
   * one VLAN tag) is read in place — the decoder would find the same addresses, and it is most
   * packets; anything else (other link layers, UDP and its tunnels, GRE, fragments, damage) goes
   * through the decoder, without defragmenting: a TCP fragment goes by its own header's
   * addresses, which every fragment of its datagram shares; any other fragment may hold a tunnel
   * whose inner connection only reassembly shows, so every worker gets it (EVERY_WORKER). A
   * packet with no IP in it goes to the first
   * worker (no connection comes of it; it decodes it for its counters).
   */
  private shardOf(p: CapturedPacket): number {
    const b = p.buf;
    const o = p.offset;
    const len = p.capLen;
    if (p.linkType === LinkType.ETHERNET && len >= 54) {
      let ip = o + 14;
      let type = (b[o + 12] << 8) | b[o + 13];
      if (type === 0x8100) {
        type = (b[o + 16] << 8) | b[o + 17];
        ip += 4;
      }
      if (type === 0x0800 && b[ip] >= 0x45 && b[ip] <= 0x4f && b[ip + 9] === 6 && ip + 20 <= o + len) return pairHashAt(4, b, ip + 12, b, ip + 16) % this.workers;
      if (type === 0x86dd && b[ip] >>> 4 === 6 && b[ip + 6] === 6 && ip + 40 <= o + len) return pairHashAt(6, b, ip + 8, b, ip + 24) % this.workers;
    }
    const d = this.decoder.decode(p);
    if (d.fragmentHeld && d.ipProto !== 6 && this.workers > 1) return EVERY_WORKER;
    return d.ipVersion === 0 ? 0 : pairHash(d.ipVersion, d.src, d.dst) % this.workers;
  }

  /** A packet bigger than the slot's spill: new shared memory, told to every worker before the batch is published. */
  private growSpill(s: Slot, need: number): void {
    const grown = new Uint8Array(new SharedArrayBuffer(Math.max(need, s.spill.length * 2)));
    grown.set(s.spill.subarray(0, this.spillUsed));
    s.spill = grown;
    this.ring.slots[this.seq % SLOTS].spill = grown.buffer as SharedArrayBuffer;
    this.spillGrown = true;
  }
  private spillGrown = false;

  private livePos = 0;
  private readonly copy: CapturedPacket = { frame: 0, tsSec: 0, tsNsec: 0, ifIndex: 0, linkType: 0, buf: new Uint8Array(0), offset: 0, capLen: 0, origLen: 0, fileOffset: 0 };

  /** Live: the slot being filled, with room for a record and `bytes` more of its chunk (the full one published first). */
  private liveSlot(bytes: number): Slot {
    const s = this.slot;
    if (s !== null && this.livePos + bytes <= s.chunk.length && this.count < s.nums.length / REC_NUMS - 1) return s;
    this.publish();
    this.begin(this.claimNow().chunk);
    this.livePos = 0;
    return this.slot!;
  }

  /** Live: a packet from the capture's callback (valid only during the call), copied into the slot being filled. */
  livePacket(p: CapturedPacket): void {
    const s = this.liveSlot(Math.min(p.capLen, this.slots[0].chunk.length));
    if (p.capLen > s.chunk.length) return this.packet(p); // bigger than a chunk: into the spill
    s.chunk.set(p.buf.subarray(p.offset, p.offset + p.capLen), this.livePos);
    const q = Object.assign(this.copy, p);
    q.buf = s.chunk;
    q.offset = this.livePos;
    this.livePos += p.capLen;
    this.packet(q);
  }

  /** Live: a wall-clock tick for every worker (idle connections close), published at once with what came before it. */
  tick(nowSec: number): void {
    const s = this.liveSlot(0);
    const i = this.count++;
    s.ints[HEADER + i * REC_INTS + R_SHARD] = TICK;
    s.nums[i * REC_NUMS + N_SEC] = nowSec;
    this.publish();
  }

  /** Live: publishes what the slot being filled holds (a timer calls it, so packets do not wait for a full chunk). */
  flushLive(): void {
    if (this.slot !== null && this.count > 0) this.publish();
  }

  /** The app's end of input (its files read, its captures stopped; live, so the slot is claimed at once): every worker ends what is open; the ring goes on. */
  inputEnd(): void {
    const s = this.liveSlot(0);
    s.ints[HEADER + this.count++ * REC_INTS + R_SHARD] = INPUT_END;
    this.publish();
  }

  /** The slot's batch is complete: the workers may read it. */
  publish(): void {
    if (this.slot === null) return;
    this.slot.ints[H_COUNT] = this.count;
    if (this.spillGrown) {
      // the slot's new spill memory, once per batch, before the workers may look
      const index = this.seq % SLOTS;
      for (const port of this.spillPorts) port.postMessage({ slot: index, spill: this.ring.slots[index].spill });
      this.slot.ints[H_NEW_SPILL] = 1;
      this.spillGrown = false;
    }
    this.slot = null;
    this.view = null;
    this.seq++;
    Atomics.store(this.control, C_PUBLISHED, this.seq);
    Atomics.notify(this.control, C_PUBLISHED);
  }

  /** No more input: the workers end every flow and send their last results. */
  end(): void {
    this.publish();
    Atomics.store(this.control, C_ENDED, 1);
    Atomics.notify(this.control, C_PUBLISHED);
  }

  /** Stops the workers where they are (a failure, or the reader went away). */
  abort(): void {
    Atomics.store(this.control, C_ABORTED, 1);
    Atomics.notify(this.control, C_PUBLISHED);
  }
}

/** The claimed slot's first `n` bytes, handed to the capture reader as a chunk and published once framed. */
async function* framed(feeder: RingFeeder, slot: Slot, n: number): AsyncGenerator<Uint8Array> {
  const view = slot.chunk.subarray(0, n);
  feeder.begin(view);
  try {
    yield view;
  } finally {
    feeder.publish();
  }
}

/** A file's chunks read straight into the ring's slots. */
export async function* fileSlots(fh: FileHandle, feeder: RingFeeder, onError: (e: unknown) => Error): AsyncGenerator<Uint8Array> {
  for (let pos = 0; ; ) {
    const slot = await feeder.claim();
    let n: number;
    try {
      n = (await fh.read(slot.chunk, 0, slot.chunk.length, pos)).bytesRead;
    } catch (e) {
      throw onError(e);
    }
    if (n === 0) return;
    pos += n;
    yield* framed(feeder, slot, n);
  }
}

/** A stream's chunks (standard input, a pipe) copied into the ring's slots. */
async function* streamSlots(stream: AsyncIterable<Uint8Array>, feeder: RingFeeder): AsyncGenerator<Uint8Array> {
  for await (const c of stream) {
    for (let at = 0; at < c.length; ) {
      const slot = await feeder.claim();
      const n = Math.min(slot.chunk.length, c.length - at);
      slot.chunk.set(c.subarray(at, at + n));
      at += n;
      yield* framed(feeder, slot, n);
    }
  }
}

/** readInputs (packet-pipeline.ts) into the ring: the inputs in order as one capture, their bytes read into its slots; `tap` is told each packet and interface too. */
function readInputsToRing(files: string[], feeder: RingFeeder, read: ReadOptions = {}, tap?: PacketSink): Promise<CaptureFormatError[]> {
  const sink: PacketSink = tap
    ? {
        packet(p) {
          tap.packet(p);
          feeder.packet(p);
        },
        interface(i) {
          tap.interface?.(i);
          feeder.interface(i);
        },
      }
    : feeder;
  return readInputs(files, sink, read, (i) => (feeder.file = i), { file: (fh, _size, onError) => fileSlots(fh, feeder, onError), stream: (s) => streamSlots(s, feeder) });
}

/** Starts `n` engine workers on the ring, each with its task; their messages go to `onMessage`, a failure to `onFailure` (once). */
export function startWorkers<T>(
  ring: RingMemory,
  n: number,
  task: (index: number) => WorkerData['task'],
  onMessage: (index: number, m: T) => void,
  onFailure: (e: Error) => void,
  bounds: ResultBounds,
  limits?: ResourceLimits,
): { workers: Worker[]; spillPorts: MessagePort[]; returnPorts: MessagePort[] } {
  const control = new Int32Array(ring.control);
  const spillPorts: MessagePort[] = [];
  const returnPorts: MessagePort[] = [];
  let failed = false;
  const fail = (w: number, why: string) => {
    if (failed) return;
    failed = true;
    onFailure(new Error(`engine thread ${w + 1} of ${n} failed: ${why}`));
  };
  const workers = Array.from({ length: n }, (_, w) => {
    const ch = new MessageChannel();
    const back = new MessageChannel();
    spillPorts.push(ch.port1);
    returnPorts.push(back.port1);
    const data: WorkerData = { ring, index: w, workers: n, spills: ch.port2, returns: back.port2, bounds, task: task(w) };
    const worker = new Worker(engineBundle('shard-worker.cjs'), { workerData: data, transferList: [ch.port2, back.port2], resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB, ...limits } });
    worker.on('message', (m: T | { error: string }) => {
      if (m !== null && typeof m === 'object' && 'error' in m) fail(w, m.error);
      else onMessage(w, m as T);
    });
    worker.on('error', (e) => fail(w, e.message));
    worker.on('exit', (code) => {
      if (Atomics.load(control, finishedWord(n, w)) === 0 && Atomics.load(control, C_ABORTED) === 0) fail(w, `it stopped (exit code ${code}) before the end of the input`);
    });
    return worker;
  });
  return { workers, spillPorts, returnPorts };
}

/** How a sharded run reads and holds back (the commands' runs pass these on as they are). */
export interface ShardedRunTuning {
  /** Bounds on each worker's heap (a worker past them fails, and the run with it, with a message). */
  workerLimits?: ResourceLimits;
  /** Bytes read at a time (default ring.ts' CHUNK; smaller in tests). */
  chunkBytes?: number;
  read?: ReadOptions;
  /** Awaited after each merged batch when it returns a promise (the output's drain: backpressure). */
  drain?: () => Promise<void> | void;
  /** Bytes of results not yet merged past which reading waits (default 16 MiB). */
  maxWaitingBytes?: number;
  /** Bytes of text per part of a worker's end of input, and KiB of results a worker may be ahead of the merger (results.ts' resultBounds; smaller in tests). */
  partBytes?: number;
  unmergedKiB?: number;
}

export interface ShardedRunOptions<F> extends ShardedRunTuning {
  /** `item` copies what it keeps (the text it writes out): a merged result's memory goes back to its worker for the next. */
  copied?: boolean;
  threads: number;
  /** What every worker runs (a task spec: worker-main.ts), or each worker's own. */
  task: WorkerData['task'] | ((index: number) => WorkerData['task']);
  /** Each item of the merged results, in order (results.ts). */
  item: (id: number, kind: number, r: ShardResult<F>, i: number, from: number, to: number) => void;
  /** Told each capture-wide number and its creationKey (results.ts). */
  created?: (id: number, key: number) => void;
  /** Instead of reading `files`: what feeds the ring (a live capture: livePacket, tick, flushLive); it returns when the input has ended. */
  feed?: (feeder: RingFeeder) => Promise<CaptureFormatError[]>;
  /** Filled with the inputs' interfaces as they are read, by `${file}:${index}` (before any packet of theirs reaches an item). */
  interfaces?: Map<string, InterfaceInfo>;
  /** Also told every packet read and interface described, in capture order, on this thread (weft capture --stdin --write saves them). */
  tap?: PacketSink;
}

export interface ShardedRunResult {
  /** Packets read (all inputs). */
  packets: number;
  /** The workers' counts, added up. */
  counts: Record<string, number>;
  errors: CaptureFormatError[];
}

/**
 * Reads the inputs into the ring for `threads` workers running `task`, and hands the merged
 * items to `item` as they come. A worker's failure rejects with its message after stopping the
 * reader and the other workers; a damaged input ends as the one-thread readers end (its error
 * in `errors`, everything before it delivered).
 */
export async function runSharded<F>(files: string[], o: ShardedRunOptions<F>): Promise<ShardedRunResult> {
  const n = o.threads;
  const ring = newRing(n, o.chunkBytes);
  const merger = new ShardMerger<F>(n, o.item);
  merger.created = o.created ?? null;
  const control = new Int32Array(ring.control);
  merger.merged = (w, r) => {
    if (r.final) return;
    Atomics.add(control, takenWord(n, w), resultKiB(r));
    Atomics.notify(control, takenWord(n, w));
    if (o.copied) {
      const bufs = transferables(r);
      returnPorts[w].postMessage(bufs, bufs);
    }
  };
  let failure: Error | null = null;
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => (settle = resolve));
  let feeder: RingFeeder | null = null;
  const fail = (e: Error) => {
    if (failure) return;
    failure = e;
    if (feeder) {
      feeder.failure = e;
      feeder.abort();
    }
    wake();
    settle();
  };
  // results wait here until merged; merging waits for the output to drain (o.drain), and the
  // reader for the results waiting to shrink: a slow reader of the output holds the whole run
  // back instead of filling memory (a SYN flood's batch ends tens of thousands of flows)
  const waiting: [number, ShardResult<F>][] = [];
  let waitingBytes = 0;
  let merging = false;
  let wake: () => void = () => {};
  const merge = async () => {
    if (merging) return;
    merging = true;
    try {
      while (waiting.length > 0 && !failure) {
        const [w, r] = waiting.shift()!;
        waitingBytes -= r.text.length; // before: merged, its memory may have gone back to its worker
        merger.add(w, r);
        wake();
        const d = o.drain?.();
        if (d) await d;
      }
    } catch (e) {
      fail(e as Error);
    } finally {
      merging = false;
    }
    if (merger.done) settle();
  };
  const { workers, spillPorts, returnPorts } = startWorkers<ShardResult<F>>(
    ring,
    n,
    (w) => (typeof o.task === 'function' ? o.task(w) : o.task),
    (w, r) => {
      waiting.push([w, r]);
      waitingBytes += r.text.length;
      void merge();
    },
    fail,
    // a live feed blocks this thread while the ring is full (RingFeeder.livePacket): the workers must not wait for the merger between batches then
    { ...resultBounds(o.partBytes, o.unmergedKiB), ...(o.feed ? { batchKiB: 0 } : {}) },
    o.workerLimits,
  );
  const mergeGate = async () => {
    while (waitingBytes > (o.maxWaitingBytes ?? MAX_WAITING_BYTES) && !failure) await new Promise<void>((resolve) => (wake = resolve));
  };
  feeder = new RingFeeder(ring, n, spillPorts, o.interfaces, mergeGate);
  let errors: CaptureFormatError[] = [];
  try {
    try {
      errors = o.feed ? await o.feed(feeder) : await readInputsToRing(files, feeder, o.read, o.tap);
    } catch (e) {
      if (!failure) throw e;
    }
    feeder.end();
    await settled;
    if (failure) throw failure;
  } finally {
    feeder.abort();
    for (const p of [...spillPorts, ...returnPorts]) p.close();
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return { packets: feeder.packets, counts: merger.counts, errors };
}
