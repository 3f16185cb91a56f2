/**
 * The ScatterGather handed to Stream.reassembledSG: the bytes of one delivery as a list of pieces
 * that are NOT copied together.
 *
 *   piece 0            piece 1                  piece 2 … n
 *   kept bytes         this packet's payload    out-of-order pages now in order
 *   (from keepFrom)    (view into the chunk)    (views into pages)
 *
 * One object per assembler, reset before every delivery: nothing is allocated per delivery in the
 * steady state. Every view is valid only during the reassembledSG call (the chunk is the capture
 * reader's, the pages are recycled). `fetch` returns a view when the bytes are in one piece and a
 * fresh copy when they span pieces. `keepFrom(offset)` asks the assembler to copy bytes from
 * `offset` on and put them in front of the direction's next delivery.
 */
import type { CaptureInfo, ScatterGather, ScatterGatherInfo, ScatterGatherStats, TCPFlowDirection } from './types';

export class ScatterGatherBuffer implements ScatterGather {
  count = 0;
  bufs: Uint8Array[] = [];
  offs: number[] = [];
  lens: number[] = [];
  cis: CaptureInfo[] = [];
  /** 1 when the piece came from a page (queued), 0 from a packet or kept bytes. */
  queued: number[] = [];
  total = 0;
  keptLen = 0;
  /** Offset passed to keepFrom, or -1. */
  keep = -1;
  readonly inf: ScatterGatherInfo = { dir: 0, start: false, end: false, skip: 0 };
  readonly st: ScatterGatherStats = { chunks: 0, packets: 0, queuedBytes: 0, queuedPackets: 0, overlapBytes: 0, overlapPackets: 0 };

  reset(dir: TCPFlowDirection, start: boolean, skip: number): void {
    this.count = 0;
    this.total = 0;
    this.keptLen = 0;
    this.keep = -1;
    this.inf.dir = dir;
    this.inf.start = start;
    this.inf.end = false;
    this.inf.skip = skip;
    const s = this.st;
    s.chunks = 0;
    s.packets = 0;
    s.queuedBytes = 0;
    s.queuedPackets = 0;
    s.overlapBytes = 0;
    s.overlapPackets = 0;
  }

  add(buf: Uint8Array, off: number, len: number, ci: CaptureInfo, queued: boolean): void {
    if (len <= 0) return;
    const i = this.count++;
    if (i === this.bufs.length) {
      this.bufs.push(buf);
      this.offs.push(off);
      this.lens.push(len);
      this.cis.push(ci);
      this.queued.push(queued ? 1 : 0);
    } else {
      this.bufs[i] = buf;
      this.offs[i] = off;
      this.lens[i] = len;
      this.cis[i] = ci;
      this.queued[i] = queued ? 1 : 0;
    }
    this.total += len;
    this.st.chunks++;
    if (queued) {
      this.st.queuedBytes += len;
      this.st.queuedPackets++;
    } else this.st.packets++;
  }

  /** Puts bytes a stream kept (keepFrom) in front of the delivery: they count in lengths()[1], not as new bytes. */
  addKept(buf: Uint8Array, len: number, ci: CaptureInfo): void {
    this.add(buf, 0, len, ci, false);
    this.keptLen = len;
  }

  /** Bytes of this delivery that were not carried over by keepFrom. */
  get newBytes(): number {
    return this.total - this.keptLen;
  }

  /** This delivery ends its direction (its FIN reached, a close). */
  markEnd(): void {
    this.inf.end = true;
  }

  get ends(): boolean {
    return this.inf.end;
  }

  /** `n` bytes of the delivery overlapped bytes seen before (for stats()). */
  noteOverlap(n: number): void {
    this.st.overlapBytes += n;
    this.st.overlapPackets++;
  }

  /** Drops the references to chunk and pages once the delivery is over. */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.bufs[i] = EMPTY;
    this.count = 0;
  }

  private readonly lens2: [number, number] = [0, 0];

  /** [available, of which kept]; the returned array is reused by the next call. */
  lengths(): [number, number] {
    this.lens2[0] = this.total;
    this.lens2[1] = this.keptLen;
    return this.lens2;
  }

  fetch(length: number): Uint8Array {
    const n = Math.max(0, Math.min(length, this.total));
    if (this.count > 0 && n <= this.lens[0]) return this.bufs[0].subarray(this.offs[0], this.offs[0] + n);
    const out = new Uint8Array(n);
    this.copyInto(out, 0, n);
    return out;
  }

  /** Copies bytes [from, from+n) of the delivery into `to` at 0. */
  copyInto(to: Uint8Array, from: number, n: number): void {
    let pos = 0; // offset of piece i in the delivery
    let w = 0;
    for (let i = 0; i < this.count && w < n; i++) {
      const len = this.lens[i];
      const start = Math.max(from, pos);
      const end = Math.min(from + n, pos + len);
      if (end > start) {
        const o = this.offs[i] + (start - pos);
        to.set(this.bufs[i].subarray(o, o + (end - start)), w);
        w += end - start;
      }
      pos += len;
    }
  }

  keepFrom(offset: number): void {
    if (offset < 0 || offset > this.total) throw new RangeError(`keepFrom(${offset}) outside 0..${this.total}`);
    this.keep = offset;
  }

  /** The packet byte `offset` came from; outside the delivery (0 … total − 1) a RangeError, as keepFrom. */
  captureInfo(offset: number): CaptureInfo {
    if (!(offset >= 0 && offset < this.total)) throw new RangeError(`captureInfo(${offset}) outside 0..${this.total - 1}`);
    let pos = 0;
    for (let i = 0; i < this.count; i++) {
      pos += this.lens[i];
      if (offset < pos) return this.cis[i];
    }
    return this.cis[this.count - 1];
  }

  pieces(fn: (buf: Uint8Array, off: number, len: number, ci: CaptureInfo) => void): void {
    for (let i = 0; i < this.count; i++) fn(this.bufs[i], this.offs[i], this.lens[i], this.cis[i]);
  }

  info(): ScatterGatherInfo {
    return this.inf;
  }

  stats(): ScatterGatherStats {
    return this.st;
  }
}

const EMPTY = new Uint8Array(0);
