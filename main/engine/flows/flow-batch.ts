/**
 * Completed flows packed for another thread, which hashes their waiting bytes and writes their
 * JSON (`weft flows --json` uses the second core this way: on captures of many small connections,
 * hashing and writing JSON were a third of the run). A batch is three pieces and no object per
 * flow (the two arrays transferred, or in memory shared with the reader: sharedArena):
 *
 *   nums   Float64Array, STRIDE numbers a flow: id, times, counters, endpoints as address words,
 *          close, flags each side sent, Zeek's history letters (4 bits each), protocol, anomalies
 *   bytes  the waiting bytes of every direction still to hash, back to back (lengths in nums)
 *   extras the rare strings, as [flow, kind, text, …]: gap lists, digests already known
 *
 * Packing runs in the listener's complete() of a FlowFactory made with `deferDigests`.
 */
import { endpointOfWords } from '../decode/addr';
import { PLUGINS } from '../protocols';
import { STREAM_ANOMALY_NAMES, type CloseReason } from '../reassembly';
import { grownTo } from '../util/bytes';
import { connState, historyOf } from './flag-history';
import { EMPTY_SHA256, PENDING_PER_DIRECTION, type FlowAccumulator, type HashHost } from './flow';
import type { FlowJsonInput } from './flow-json';

const A = STREAM_ANOMALY_NAMES.length;
// field offsets within a flow's numbers
const ID = 0, FIRST = 1, LAST = 2, P0 = 3, P1 = 4, B0 = 5, B1 = 6, G0 = 7, G1 = 8, INFERRED = 9, CONFLICTS = 10, IPV = 11, VLAN = 12;
const CLOSE = 13, LEN0 = 14, LEN1 = 15, HIST = 16, HISTLEN = 17, F0 = 18, F1 = 19, PROTO = 20, CPORT = 21, SPORT = 22, CW = 23, SW = 27, HAS0 = 31, HAS1 = 32, QUIET = 33, C0 = 34, C1 = 34 + A;
const STRIDE = C1 + A;

const CLOSES: readonly CloseReason[] = ['fin', 'rst', 'idle', 'end-of-input', 'limit'];
const PLUGIN_INDEX = new Map(PLUGINS.map((p, i) => [p.name, i]));
const EXTRA_GAPS0 = 0, EXTRA_GAPS1 = 1, EXTRA_SHA0 = 2, EXTRA_SHA1 = 3;
/** An entry that is a line written as it is (a UDP conversation), in its place among the flows: its ID is LINE. */
const EXTRA_LINE = 0;
const LINE = -1;

export interface FlowBatch {
  count: number;
  nums: Float64Array;
  bytes: Uint8Array;
  bytesLen: number;
  extras: (number | string)[];
}

/** Where a writer packs its next batch: fresh arrays, or a slot of memory shared with the reader. */
export type BatchArena = (last: { nums: number; bytes: number }) => { nums: Float64Array; bytes: Uint8Array };

/** The default arena: fresh arrays, as big as the last batch's (the caller transfers them). */
const freshArena: BatchArena = (last) => ({ nums: new Float64Array(Math.max(STRIDE * 256, last.nums)), bytes: new Uint8Array(Math.max(1 << 16, last.bytes)) });

/**
 * `slots` pairs of arrays over SharedArrayBuffers, taken in turn, each big enough for a batch
 * handed over at `batchBytes` (FlowBatchWriter.size): nothing is allocated, zeroed or transferred
 * per batch (allocating them was a twentieth of `weft flows` on a capture of many small
 * connections). A batch that outgrows its slot moves to fresh memory (grownTo) and is transferred
 * as before. The reader must be done with a slot's batch before the writer comes back to it:
 * at most `slots - 1` batches in flight.
 */
export function sharedArena(slots: number, batchBytes: number): BatchArena {
  const flows = Math.ceil(batchBytes / (STRIDE * 8)) + 1;
  const bytes = batchBytes + 2 * PENDING_PER_DIRECTION;
  const all = Array.from({ length: slots }, () => ({
    nums: new Float64Array(new SharedArrayBuffer(flows * STRIDE * 8)),
    bytes: new Uint8Array(new SharedArrayBuffer(bytes)),
  }));
  let next = 0;
  return () => all[next++ % slots];
}

/** Packs completed flows into batches (the assembling thread). */
export class FlowBatchWriter {
  private nums: Float64Array;
  private bytes: Uint8Array;
  private bytesLen = 0;
  private extras: (number | string)[] = [];
  count = 0;

  constructor(private readonly arena: BatchArena = freshArena) {
    ({ nums: this.nums, bytes: this.bytes } = arena({ nums: 0, bytes: 0 }));
  }

  /** Bytes held (numbers and waiting bytes), to decide when to hand the batch over. */
  get size(): number {
    return this.count * STRIDE * 8 + this.bytesLen + this.lineBytes;
  }

  add(a: FlowAccumulator): void {
    const i = this.count++;
    if ((i + 1) * STRIDE > this.nums.length) this.nums = grownTo(this.nums, (i + 1) * STRIDE);
    const n = this.nums;
    const o = i * STRIDE;
    const c = a.conn;
    const [h0, h1] = c.halves;
    n[o + ID] = c.id;
    n[o + QUIET] = Math.max(h0.longestQuietSec, h1.longestQuietSec);
    n[o + FIRST] = c.firstSec + c.firstNsec / 1e9;
    n[o + LAST] = c.lastSec + c.lastNsec / 1e9;
    n[o + P0] = h0.packets + a.lateC2s;
    n[o + P1] = h1.packets + a.lateS2c;
    n[o + B0] = h0.delivered;
    n[o + B1] = h1.delivered;
    n[o + G0] = h0.gapBytes;
    n[o + G1] = h1.gapBytes;
    n[o + INFERRED] = c.directionInferred ? 1 : 0;
    n[o + CONFLICTS] = h0.conflicts.length + h1.conflicts.length;
    n[o + IPV] = c.ipVersion;
    n[o + VLAN] = c.vlan;
    n[o + CLOSE] = CLOSES.indexOf(a.close!);
    n[o + HIST] = a.historyCode;
    n[o + HISTLEN] = a.historyLength;
    n[o + F0] = a.flags0;
    n[o + F1] = a.flags1;
    n[o + PROTO] = a.protocol === null ? -1 : (PLUGIN_INDEX.get(a.protocol) ?? -1);
    const cw = c.clientAddressWords(); // a shared array: read before asking for the server's
    for (let k = 0; k < 4; k++) n[o + CW + k] = cw[k];
    const sw = c.serverAddressWords();
    for (let k = 0; k < 4; k++) n[o + SW + k] = sw[k];
    n[o + CPORT] = c.clientPort;
    n[o + SPORT] = c.serverPort;
    n[o + HAS0] = h0.counts === null ? 0 : 1;
    n[o + HAS1] = h1.counts === null ? 0 : 1;
    if (h0.counts !== null) n.set(h0.counts, o + C0);
    if (h1.counts !== null) n.set(h1.counts, o + C1);
    if (h0.gaps.length) this.extras.push(i, EXTRA_GAPS0, JSON.stringify(h0.gaps));
    if (h1.gaps.length) this.extras.push(i, EXTRA_GAPS1, JSON.stringify(h1.gaps));
    this.direction(a, i, 0, o + LEN0, EXTRA_SHA0);
    this.direction(a, i, 1, o + LEN1, EXTRA_SHA1);
  }

  /** A direction's waiting bytes (their length at `lenAt`), or its digest when known (an extra). */
  private direction(a: FlowAccumulator, i: number, d: 0 | 1, lenAt: number, extra: number): void {
    this.taken = 0;
    const hex = a.digestOrBytes(d, this.takeBytes);
    this.nums[lenAt] = hex === null ? this.taken : -1;
    if (hex !== null && hex !== EMPTY_SHA256) this.extras.push(i, extra, hex);
  }

  private taken = 0;
  /** Appends a direction's waiting bytes (one function for every flow). */
  private readonly takeBytes = (b: Uint8Array): void => {
    const len = b.length;
    if (this.bytesLen + len > this.bytes.length) this.bytes = grownTo(this.bytes, this.bytesLen + len);
    this.bytes.set(b, this.bytesLen);
    this.bytesLen += len;
    this.taken = len;
  };

  /** A line to write as it is, in its place among the flows (a UDP conversation's JSON). */
  addLine(line: string): void {
    const i = this.count++;
    if ((i + 1) * STRIDE > this.nums.length) this.nums = grownTo(this.nums, (i + 1) * STRIDE);
    this.nums[i * STRIDE + ID] = LINE;
    this.extras.push(i, EXTRA_LINE, line);
    this.lineBytes += line.length;
  }
  private lineBytes = 0;

  /** The batch so far (its arrays are the caller's now: transfer the ones not shared), and the next begun in the arena's next arrays. */
  take(): FlowBatch {
    const b: FlowBatch = { count: this.count, nums: this.nums.subarray(0, this.count * STRIDE), bytes: this.bytes.subarray(0, this.bytesLen), bytesLen: this.bytesLen, extras: this.extras };
    ({ nums: this.nums, bytes: this.bytes } = this.arena({ nums: this.nums.length, bytes: this.bytes.length }));
    this.bytesLen = 0;
    this.extras = [];
    this.count = 0;
    this.lineBytes = 0;
    return b;
  }
}

/**
 * Reads a batch back as FlowJsonInputs (the writing thread), hashing the waiting bytes. `fn` gets
 * one reused object; `line` the lines added as they are (addLine), each in its place.
 */
export function readBatch(b: FlowBatch, hashes: HashHost, fn: (f: FlowJsonInput) => void, line: (l: string) => void = () => {}): void {
  const n = b.nums;
  const extra = new Map<number, string>();
  for (let k = 0; k < b.extras.length; k += 3) extra.set((b.extras[k] as number) * 4 + (b.extras[k + 1] as number), b.extras[k + 2] as string);
  const c0 = new Float64Array(A);
  const c1 = new Float64Array(A);
  const f: FlowJsonInput = { id: 0, client: '', server: '', firstSeen: 0, lastSeen: 0, packets0: 0, packets1: 0, bytes0: 0, bytes1: 0, sha0: '', sha1: '', gaps0: 0, gaps1: 0, close: '', quietSec: 0, inferred: false, counts0: null, counts1: null, gapList0: '[]', gapList1: '[]', conflicts: 0, protocol: null, ipVersion: 4, vlan: null, history: '', connState: '' };
  let at = 0;
  const lines = new Map<number, string>();
  for (let k = 0; k < b.extras.length; k += 3) if (b.nums[(b.extras[k] as number) * STRIDE + ID] === LINE) lines.set(b.extras[k] as number, b.extras[k + 2] as string);
  for (let i = 0; i < b.count; i++) {
    const o = i * STRIDE;
    if (n[o + ID] === LINE) {
      line(lines.get(i)!);
      continue;
    }
    const v = n[o + IPV];
    f.id = n[o + ID];
    f.client = endpointOfWords(v, n[o + CW], n[o + CW + 1], n[o + CW + 2], n[o + CW + 3], n[o + CPORT]);
    f.server = endpointOfWords(v, n[o + SW], n[o + SW + 1], n[o + SW + 2], n[o + SW + 3], n[o + SPORT]);
    f.firstSeen = n[o + FIRST];
    f.lastSeen = n[o + LAST];
    f.packets0 = n[o + P0];
    f.packets1 = n[o + P1];
    f.bytes0 = n[o + B0];
    f.bytes1 = n[o + B1];
    f.gaps0 = n[o + G0];
    f.gaps1 = n[o + G1];
    for (const d of [0, 1] as const) {
      const len = n[o + (d === 0 ? LEN0 : LEN1)];
      let sha: string;
      if (len >= 0) {
        sha = len === 0 ? EMPTY_SHA256 : hashes.sha256Hex(b.bytes.subarray(at, at + len));
        at += len;
      } else sha = extra.get(i * 4 + (d === 0 ? EXTRA_SHA0 : EXTRA_SHA1)) ?? EMPTY_SHA256;
      if (d === 0) f.sha0 = sha;
      else f.sha1 = sha;
    }
    f.close = CLOSES[n[o + CLOSE]];
    f.quietSec = n[o + QUIET];
    f.inferred = n[o + INFERRED] === 1;
    if (n[o + HAS0]) c0.set(n.subarray(o + C0, o + C0 + A));
    if (n[o + HAS1]) c1.set(n.subarray(o + C1, o + C1 + A));
    f.counts0 = n[o + HAS0] ? c0 : null;
    f.counts1 = n[o + HAS1] ? c1 : null;
    f.gapList0 = extra.get(i * 4 + EXTRA_GAPS0) ?? '[]';
    f.gapList1 = extra.get(i * 4 + EXTRA_GAPS1) ?? '[]';
    f.conflicts = n[o + CONFLICTS];
    const p = n[o + PROTO];
    f.protocol = p < 0 ? null : PLUGINS[p].name;
    f.ipVersion = v;
    f.vlan = n[o + VLAN] >= 0 ? n[o + VLAN] : null;
    f.history = historyOf(n[o + HIST], n[o + HISTLEN]);
    f.connState = connState(n[o + F0], n[o + F1]);
    fn(f);
  }
}
