/**
 * The packet log: every TCP packet of every connection, as the engine saw and judged it, for a
 * flow's packet list and graphs. One fixed-size record per packet goes to a file in the session
 * folder (in capture order, written in the background), the SACK blocks of the packets that carry
 * them to another; memory keeps only a chain through each connection's packets (4 bytes a packet)
 * and a few numbers per connection.
 *
 *   packets.bin, one record of ten little-endian u32 words per packet:
 *     frame │ seconds │ nanoseconds │ seq │ ack │ payload length │ window + flags │ judged │ sack │ connection
 *   window + flags: the window field as sent (bits 0..15), the TCP flags (bits 16..24), bit 31 set
 *     for server → client.
 *   judged: the engine's verdict (Assembler PacketObserver: a bit per stream anomaly, AFTER_CLOSE).
 *   sack: 0, or 1 + the u32 word of sacks.bin where the packet's blocks start ([count, edges…]).
 *
 * Per connection: first and last packet, count, the base sequence number of each direction (its
 * SYN's, else its first packet's: what relative numbers count from) and its window scale (from
 * its SYN; −1 when none was seen).
 */
import { join } from 'node:path';
import { TcpHeader } from '../../engine/decode/layers';
import { STREAM_ANOMALY_NAMES, type CaptureInfo, type PacketObserver, type TCPFlowDirection } from '../../engine/reassembly';
import { grownTo } from '../../engine/util/bytes';
import type { PacketPage } from '../../ipc/contract';
import { AppendFile } from './append-file';

/** The TCP fields of a UDP datagram's record: none (a header of zeros). */
const NO_TCP = new TcpHeader();

const WORDS = 10;
const RECORD = WORDS * 4;
const SYN = 0x02;
const DIR_BIT = 0x80000000;
/** Records gathered in memory before they go to the file in one append. */
const BLOCK = 16384;

/** A connection's packets in order, built from its chain when read. */
interface PacketList {
  count: number;
  packets: Int32Array;
}

const LISTS_KEPT = 8;

export class PacketLog implements PacketObserver {
  private readonly file: AppendFile;
  /** Records not yet appended to the file (packets [written, total)). */
  private readonly block = new Uint32Array(BLOCK * WORDS);
  private readonly blockBytes = new Uint8Array(this.block.buffer);
  private written = 0;
  private total = 0;
  private next = new Int32Array(4096);
  /** Per connection (id − 1): first / last packet + 1 (0: none), count. */
  private first = new Int32Array(1024);
  private last = new Int32Array(1024);
  private count = new Uint32Array(1024);
  /** Per connection and direction ((id − 1) × 2 + dir): base sequence number, and whether it came from a SYN. */
  private base = new Uint32Array(2048);
  private baseFromSyn = new Uint8Array(2048);
  /** Per connection and direction: window scale + 1 (0: no SYN with the option seen). */
  private scale = new Uint8Array(2048);
  /** SACK blocks, [count, left, right, …] per packet that has them, in u32 words (sacks.bin). */
  private readonly sacks: AppendFile;
  private readonly sackRec = new Uint32Array(9);
  private readonly sackBytes = new Uint8Array(this.sackRec.buffer);
  private readonly lists = new Map<number, PacketList>();
  /** Where each input's packets begin (frames rise within one; the next file numbers from 1 again). */
  private readonly runs: number[] = [0];
  private lastFrame = 0;

  constructor(sessionDir: string) {
    this.file = new AppendFile(join(sessionDir, 'packets.bin'));
    this.sacks = new AppendFile(join(sessionDir, 'sacks.bin'));
  }

  /** Packets logged, all connections. */
  get size(): number {
    return this.total;
  }

  /** A UDP datagram of conversation `connId` (one id space with the connections): its record has no TCP fields (all 0). */
  datagram(connId: number, dir: TCPFlowDirection, payloadLength: number, ci: CaptureInfo): void {
    this.packet(connId, dir, NO_TCP, payloadLength, ci, 0);
  }

  packet(connId: number, dir: TCPFlowDirection, t: TcpHeader, payloadLength: number, ci: CaptureInfo, judged: number): void {
    const i = this.total++;
    if (ci.frame <= this.lastFrame) this.runs.push(i);
    this.lastFrame = ci.frame;
    if (i === this.next.length) this.next = grownTo(this.next, i + 1);
    this.next[i] = -1;
    const c = connId - 1;
    if (c >= this.first.length) {
      this.first = grownTo(this.first, c + 1);
      this.last = grownTo(this.last, c + 1);
      this.count = grownTo(this.count, c + 1);
    }
    const k = c * 2 + dir;
    if (k + 1 >= this.base.length) {
      this.base = grownTo(this.base, k + 2);
      this.baseFromSyn = grownTo(this.baseFromSyn, k + 2);
      this.scale = grownTo(this.scale, k + 2);
    }
    const flags = t.flags;
    const seq = t.seq >>> 0;
    // relative numbers count from the direction's SYN, else from its first packet
    if (!this.seen(k)) this.base[k] = seq;
    if (flags & SYN) {
      if (!this.baseFromSyn[k]) {
        this.base[k] = seq;
        this.baseFromSyn[k] = 1;
      }
      if (t.dataOffset > 20) {
        const ws = t.windowScale;
        if (ws >= 0) this.scale[k] = Math.min(ws, 14) + 1;
      }
    }
    let sack = 0;
    if (t.dataOffset > 20 && t.sackCount > 0) {
      const n = t.sackCount;
      sack = this.sacks.size / 4 + 1;
      this.sackRec[0] = n;
      for (let j = 0; j < 2 * n; j++) this.sackRec[1 + j] = t.sack[j];
      this.sacks.append(this.sackBytes, 0, 4 * (1 + 2 * n));
    }
    if (this.last[c] === 0) this.first[c] = i + 1;
    else this.next[this.last[c] - 1] = i;
    this.last[c] = i + 1;
    this.count[c]++;
    const b = this.block;
    let o = (i - this.written) * WORDS;
    b[o++] = ci.frame;
    b[o++] = ci.tsSec;
    b[o++] = ci.tsNsec;
    b[o++] = seq;
    b[o++] = t.ack;
    b[o++] = payloadLength;
    b[o++] = (t.window & 0xffff) | ((flags & 0x1ff) << 16) | (dir ? DIR_BIT : 0);
    b[o++] = judged;
    b[o++] = sack;
    b[o] = connId;
    if (i + 1 - this.written === BLOCK) {
      this.file.append(this.blockBytes, 0, BLOCK * RECORD);
      this.written = i + 1;
    }
  }

  /** Copies `n` bytes of the log from byte `at` into `out` (from the block still in memory, else the file). */
  private readAt(out: Uint8Array, at: number, n: number): void {
    const mem = this.written * RECORD;
    if (at >= mem) out.set(this.blockBytes.subarray(at - mem, at - mem + n));
    else this.file.readAt(out, 0, at, n);
  }

  /** A bit per connection and direction: seen before (marks it seen). */
  private seenDir = new Uint8Array(256);
  private seen(k: number): boolean {
    if (k >> 3 >= this.seenDir.length) this.seenDir = grownTo(this.seenDir, (k >> 3) + 1);
    const was = (this.seenDir[k >> 3] & (1 << (k & 7))) !== 0;
    this.seenDir[k >> 3] |= 1 << (k & 7);
    return was;
  }

  /** Packets of connection `id`. */
  countOf(id: number): number {
    return id >= 1 && id - 1 < this.count.length ? this.count[id - 1] : 0;
  }

  private list(c: number): PacketList {
    const n = this.count[c];
    let l = this.lists.get(c);
    if (l) this.lists.delete(c);
    else l = { count: 0, packets: new Int32Array(Math.max(4, n)) };
    if (l.count < n) {
      if (l.packets.length < n) l.packets = grownTo(l.packets, n);
      let p = l.count === 0 ? this.first[c] - 1 : this.next[l.packets[l.count - 1]];
      while (p >= 0 && l.count < n) {
        l.packets[l.count++] = p;
        p = this.next[p];
      }
    }
    this.lists.set(c, l);
    if (this.lists.size > LISTS_KEPT) this.lists.delete(this.lists.keys().next().value!);
    return l;
  }

  /** Packets [from, from + count) of connection `id`, in capture order, as columns. */
  read(id: number, from: number, count: number): PacketPage {
    const total = this.countOf(id);
    const start = Math.max(0, Math.min(from, total));
    const end = Math.min(total, start + Math.max(0, count));
    const page: PacketPage = {
      id,
      total,
      from: start,
      base: [0, 0],
      scale: [-1, -1],
      frame: [],
      tsSec: [],
      tsNsec: [],
      dir: [],
      flags: [],
      seq: [],
      ack: [],
      len: [],
      win: [],
      judged: [],
      sack: [],
      at: [],
      names: [...STREAM_ANOMALY_NAMES],
    };
    if (total === 0) return page;
    const c = id - 1;
    for (const d of [0, 1] as const) {
      page.base[d] = this.base[c * 2 + d];
      page.scale[d] = this.scale[c * 2 + d] - 1;
    }
    const l = this.list(c);
    const rec = new Uint8Array(RECORD);
    const v = new DataView(rec.buffer);
    const sackWords = new Uint32Array(9);
    const sackBuf = new Uint8Array(sackWords.buffer);
    for (let j = start; j < end; j++) {
      this.readAt(rec, l.packets[j] * RECORD, RECORD);
      page.frame.push(v.getUint32(0, true));
      page.tsSec.push(v.getUint32(4, true));
      page.tsNsec.push(v.getUint32(8, true));
      page.seq.push(v.getUint32(12, true));
      page.ack.push(v.getUint32(16, true));
      page.len.push(v.getUint32(20, true));
      const wf = v.getUint32(24, true);
      page.win.push(wf & 0xffff);
      page.flags.push((wf >>> 16) & 0x1ff);
      page.dir.push(wf & DIR_BIT ? 1 : 0);
      page.judged.push(v.getUint32(28, true));
      const s = v.getUint32(32, true);
      if (s === 0) page.sack.push([]);
      else {
        const at = (s - 1) * 4;
        this.sacks.readAt(sackBuf, 0, at, 4);
        const n = Math.min(4, sackWords[0]);
        this.sacks.readAt(sackBuf, 4, at + 4, 8 * n);
        page.sack.push(Array.from(sackWords.subarray(1, 1 + 2 * n)));
      }
    }
    return page;
  }

  private frameOf(record: number, scratch: Uint8Array): number {
    this.readAt(scratch, record * RECORD, 4);
    return scratch[0] | (scratch[1] << 8) | (scratch[2] << 16) | ((scratch[3] << 24) >>> 0);
  }

  /**
   * Where frame `frame` is: its connection and its index among that connection's packets, or
   * null when no TCP packet of a connection has that number. Frames rise within one input file, so
   * the searches are binary; a session of several files numbers each from 1, so a frame number may
   * be in several: connection `prefer`'s packet if it has one, else the first file's.
   */
  findFrame(frame: number, prefer?: number): { id: number; index: number } | null {
    const s = new Uint8Array(4);
    if (prefer !== undefined && this.countOf(prefer) > 0) {
      const l = this.list(prefer - 1);
      const at = this.search(0, l.count, frame, (j) => l.packets[j], s);
      if (at >= 0) return { id: prefer, index: at };
    }
    for (let r = 0; r < this.runs.length; r++) {
      const end = r + 1 < this.runs.length ? this.runs[r + 1] : this.total;
      const rec = this.search(this.runs[r], end, frame, (j) => j, s);
      if (rec < 0) continue;
      const c = new Uint8Array(4);
      this.readAt(c, rec * RECORD + 36, 4);
      const id = new DataView(c.buffer).getUint32(0, true);
      const l = this.list(id - 1);
      let a = 0;
      let b = l.count;
      while (a < b) {
        const mid = (a + b) >>> 1;
        if (l.packets[mid] < rec) a = mid + 1;
        else b = mid;
      }
      return { id, index: a };
    }
    return null;
  }

  /** The position in [lo, hi) whose record (recordOf) has frame `frame`, or −1 (frames rise over the range). */
  private search(lo: number, hi: number, frame: number, recordOf: (j: number) => number, s: Uint8Array): number {
    const end = hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.frameOf(recordOf(mid), s) < frame) lo = mid + 1;
      else hi = mid;
    }
    return lo < end && this.frameOf(recordOf(lo), s) === frame ? lo : -1;
  }

  close(then?: () => void): void {
    this.sacks.close();
    this.file.close(then);
  }
}
