/**
 * The memory the reader thread and the engine workers share (shards/): a ring of SLOTS batches,
 * each one input chunk read straight into shared memory plus a record per packet framed from it.
 *
 *   slot s:  chunk  ▕ the file's bytes, as read (packets are views into it: never copied)      ▏
 *            spill  ▕ the packet completed across two chunks (the reader's scratch), copied    ▏
 *            ints   ▕ count │ new-spill │ per packet: shard, where, offset, capLen, origLen, … ▏
 *            nums   ▕ per packet: tsSec, fileOffset                                           ▏
 *   control: published │ ended │ aborted │ done by worker 0 │ done by worker 1 │ … │ finished 0 │ … │ KiB merged from 0 │ …
 *
 * Batch b lives in slot b % SLOTS. The reader fills a slot only when every worker has finished the
 * batch that was in it (done ≥ b − SLOTS + 1), publishes it by raising `published`, and wakes the
 * workers; each worker reads every record of every batch — its own packets to decode, the others'
 * only for their time and place in the capture (PacketPipeline.passBy) — and raises its `done`.
 * So every worker's clock and packet count are the capture's, and nothing is sent per packet.
 */

/** Bytes of input per batch. */
export const CHUNK = 1 << 20;
/** Batches in the ring: how far the reader may run ahead of the slowest worker. */
export const SLOTS = 16;
/** The spill area's first size (a packet split across chunks is at most the reader's record limit; the spill grows for bigger ones). */
export const SPILL = 256 << 10;
/** Records a batch of `chunkBytes` can hold: every pcap record or pcapng block is at least 16 bytes, plus the one completed from the previous chunk. */
function maxRecords(chunkBytes: number): number {
  return (chunkBytes >>> 4) + 2;
}

/** ints header and per-record fields. */
export const H_COUNT = 0;
/** 1: the slot's spill was replaced (a message on the worker's port carries the new one). */
export const H_NEW_SPILL = 1;
export const HEADER = 2;
/** R_FILE: which input (0, 1, … in the order given). */
export const R_SHARD = 0, R_WHERE = 1, R_OFFSET = 2, R_CAPLEN = 3, R_ORIGLEN = 4, R_NSEC = 5, R_FRAME = 6, R_LINK = 7, R_IF = 8, R_FILE = 9;
export const REC_INTS = 10;
export const N_SEC = 0, N_FILEOFF = 1;
export const REC_NUMS = 2;
/**
 * R_SHARD of an IP fragment that may hold a tunnel (any protocol but TCP): every worker
 * defragments it (so each holds what one thread would), and the one whose address pair the
 * reassembled datagram's innermost header hashes to keeps it. Fragments are rare; a tunnel's
 * fragments and its whole packets then meet on the worker of the inner connection.
 */
export const EVERY_WORKER = -1;
/** R_SHARD of a wall-clock tick of a live capture (not a packet): every worker closes what is idle by then (N_SEC: the wall time). */
export const TICK = -2;
/** R_SHARD of the app's end of input (its files read, its captures stopped; not a packet): every worker ends what is open, and the ring goes on. */
export const INPUT_END = -3;
/** R_WHERE: in the chunk, or in the spill. */
export const IN_CHUNK = 0, IN_SPILL = 1;



/** Control words. */
export const C_PUBLISHED = 0, C_ENDED = 1, C_ABORTED = 2, C_DONE = 3;

/** The control word a worker sets once it has posted its last result (so its exit is not taken for a failure while that message is on its way). */
export function finishedWord(workers: number, index: number): number {
  return C_DONE + workers + index;
}

/** The control word counting the KiB of a worker's results the merger has merged (resultKiB, wrapping): a worker goes on only while it is at most so far ahead (results.ts' resultBounds). */
export function takenWord(workers: number, index: number): number {
  return C_DONE + 2 * workers + index;
}

export interface SlotMemory {
  chunk: SharedArrayBuffer;
  spill: SharedArrayBuffer;
  ints: SharedArrayBuffer;
  nums: SharedArrayBuffer;
}

export interface RingMemory {
  control: SharedArrayBuffer;
  slots: SlotMemory[];
}

/** The ring for `workers` workers, reading `chunkBytes` at a time (smaller in tests: more batches, more packets split across them). */
export function newRing(workers: number, chunkBytes = CHUNK): RingMemory {
  const records = maxRecords(chunkBytes);
  return {
    control: new SharedArrayBuffer(4 * (C_DONE + 3 * workers)),
    slots: Array.from({ length: SLOTS }, () => ({
      chunk: new SharedArrayBuffer(chunkBytes),
      spill: new SharedArrayBuffer(SPILL),
      ints: new SharedArrayBuffer(4 * (HEADER + records * REC_INTS)),
      nums: new SharedArrayBuffer(8 * records * REC_NUMS),
    })),
  };
}

/** A slot as typed views. */
export class Slot {
  readonly chunk: Uint8Array;
  spill: Uint8Array;
  readonly ints: Int32Array;
  readonly nums: Float64Array;
  constructor(m: SlotMemory) {
    this.chunk = new Uint8Array(m.chunk);
    this.spill = new Uint8Array(m.spill);
    this.ints = new Int32Array(m.ints);
    this.nums = new Float64Array(m.nums);
  }
}

/**
 * The symmetric hash of an address pair (either order gives the same value): both directions of
 * a connection, and every fragment of a datagram, land on the same worker. Addresses only — not
 * ports (a fragment after the first has none) and not VLAN tags (a connection's two directions
 * may be tagged differently and are still one connection).
 */
export function pairHash(version: number, a: Uint8Array, b: Uint8Array): number {
  return pairHashAt(version, a, 0, b, 0);
}

/** Whether worker `index` of `workers` owns what a packet decoded to (PacketPipeline.owns): by its innermost address pair. */
export function ownedBy(index: number, workers: number): (d: { ipVersion: number; src: Uint8Array; dst: Uint8Array }) => boolean {
  return (d) => pairHash(d.ipVersion, d.src, d.dst) % workers === index;
}

/** pairHash of addresses at a[aOff…] and b[bOff…] (4 bytes each for IPv4, 16 for IPv6). */
export function pairHashAt(version: number, a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): number {
  const n = version === 6 ? 16 : 4;
  return (mix(a, aOff, n) + mix(b, bOff, n)) >>> 0;
}

function mix(x: Uint8Array, off: number, n: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < off + n; i++) h = Math.imul(h ^ x[i], 0x01000193);
  // murmur3's finaliser, so nearby addresses spread over the workers
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
